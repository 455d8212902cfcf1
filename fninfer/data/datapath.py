"""`fninfer.data.datapath`, mirroring `azureml.data.datapath`."""

from fninfer._datastore import DataPath

__all__ = ["DataPath"]
