"""`fninfer.data`, mirroring `azureml.data`."""

from fninfer._dataset import DataType, FileDataset, TabularDataset
from fninfer._output_dataset_config import OutputFileDatasetConfig

__all__ = ["DataType", "FileDataset", "OutputFileDatasetConfig", "TabularDataset"]
