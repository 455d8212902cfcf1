"""`fninfer.contrib.services`, mirroring `azureml.contrib.services`: raw HTTP access in a scoring script's run()."""

from fninfer.contrib.services.aml_request import rawhttp

__all__ = ["rawhttp"]
