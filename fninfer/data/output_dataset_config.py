"""`fninfer.data.output_dataset_config`, mirroring `azureml.data.output_dataset_config`."""

from fninfer._output_dataset_config import OutputFileDatasetConfig, OutputTabularDatasetConfig

__all__ = ["OutputFileDatasetConfig", "OutputTabularDatasetConfig"]
