"""`fninfer.contrib.services.aml_request`, mirroring `azureml.contrib.services.aml_request`."""

from shared.services.raw_http import AMLRequest, rawhttp

__all__ = ["AMLRequest", "rawhttp"]
