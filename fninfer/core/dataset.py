"""`fninfer.core.dataset`, mirroring `azureml.core.dataset`."""

from fninfer._dataset import Dataset

__all__ = ["Dataset"]
