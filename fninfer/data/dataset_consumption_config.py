"""`fninfer.data.dataset_consumption_config`, mirroring `azureml.data.dataset_consumption_config`."""

from fninfer._dataset import DatasetConsumptionConfig

__all__ = ["DatasetConsumptionConfig"]
