"""`fninfer.contrib.pipeline`, mirroring `azureml.contrib.pipeline`."""
