"""`fninfer.core.workspace`, mirroring `azureml.core.workspace`."""

from fninfer._workspace import Workspace

__all__ = ["Workspace"]
