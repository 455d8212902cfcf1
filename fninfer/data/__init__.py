"""`fninfer.data`, mirroring `azureml.data`."""

from fninfer._dataset import FileDataset

__all__ = ["FileDataset"]
