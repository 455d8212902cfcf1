"""Real-time inferencing services: records, deployment, scoring, keys and tokens, logs."""
