"""`fninfer.data`, mirroring `azureml.data`."""

from fninfer._dataset import DataType, FileDataset, TabularDataset

__all__ = ["DataType", "FileDataset", "TabularDataset"]
