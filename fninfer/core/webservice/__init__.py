"""`fninfer.core.webservice`, mirroring `azureml.core.webservice`."""

from fninfer._webservice import AciWebservice, AksWebservice, LocalWebservice, Webservice, WebserviceException

__all__ = ["AciWebservice", "AksWebservice", "LocalWebservice", "Webservice", "WebserviceException"]
