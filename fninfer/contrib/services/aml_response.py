"""`fninfer.contrib.services.aml_response`, mirroring `azureml.contrib.services.aml_response`."""

from shared.services.raw_http import AMLResponse

__all__ = ["AMLResponse"]
