"""`fninfer.contrib`, mirroring `azureml.contrib`."""
