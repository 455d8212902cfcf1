"""`fninfer.pipeline`, mirroring `azureml.pipeline`."""
