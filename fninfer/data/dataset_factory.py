"""`fninfer.data.dataset_factory`, mirroring `azureml.data.dataset_factory`."""

from fninfer._dataset import DataType

__all__ = ["DataType"]
