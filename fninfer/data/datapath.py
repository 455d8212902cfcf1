"""`fninfer.data.datapath`, mirroring `azureml.data.datapath`."""

from fninfer._datastore import DataPath, DataPathComputeBinding

__all__ = ["DataPath", "DataPathComputeBinding"]
