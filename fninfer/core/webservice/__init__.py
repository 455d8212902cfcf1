"""`fninfer.core.webservice`, mirroring `azureml.core.webservice`."""

from fninfer._exceptions import WebserviceException
from fninfer._webservice import AciWebservice, AksWebservice, LocalWebservice, Webservice

__all__ = ["AciWebservice", "AksWebservice", "LocalWebservice", "Webservice", "WebserviceException"]
