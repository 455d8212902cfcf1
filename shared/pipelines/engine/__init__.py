"""The pipeline engine: definitions and their checks, the step graph, starting steps, advancing a run, submitting,
publishing and pipeline endpoints."""
