"""`fninfer_user`, mirroring `azureml_user`: what a ParallelRunStep entry script imports about the run it is in."""
