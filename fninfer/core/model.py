"""`fninfer.core.model`, mirroring `azureml.core.model`."""

from fninfer._model import Model

__all__ = ["Model"]
