"""`fninfer.core.compute`, mirroring `azureml.core.compute`."""

from fninfer._compute import AksCompute, AmlCompute, ComputeTarget

__all__ = ["AksCompute", "AmlCompute", "ComputeTarget"]
