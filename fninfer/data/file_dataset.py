"""`fninfer.data.file_dataset`, mirroring `azureml.data.file_dataset`."""

from fninfer._dataset import FileDataset

__all__ = ["FileDataset"]
