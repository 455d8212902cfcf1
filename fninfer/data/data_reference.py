"""`fninfer.data.data_reference`, mirroring `azureml.data.data_reference`."""

from fninfer._datastore import DataReference

__all__ = ["DataReference"]
