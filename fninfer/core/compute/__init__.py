"""`fninfer.core.compute`, mirroring `azureml.core.compute`."""

from fninfer._compute import AksCompute, ComputeTarget

__all__ = ["AksCompute", "ComputeTarget"]
