"""fninfer: Azure ML SDK v1 workflows on Azure Functions. The SDK mirrors azureml's modules (`fninfer.core`,
`fninfer.data`, `fninfer.pipeline`, ...); `install_as_azureml()` lets v1 code keep its `azureml` imports."""

from fninfer._azureml_alias import install_as_azureml

__all__ = ["install_as_azureml"]
