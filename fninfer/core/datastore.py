"""`fninfer.core.datastore`, mirroring `azureml.core.datastore`."""

from fninfer._datastore import Datastore

__all__ = ["Datastore"]
