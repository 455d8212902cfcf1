"""`fninfer.data.tabular_dataset`, mirroring `azureml.data.tabular_dataset`."""

from fninfer._dataset import TabularDataset

__all__ = ["TabularDataset"]
