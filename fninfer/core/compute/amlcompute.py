"""`fninfer.core.compute.amlcompute`, mirroring `azureml.core.compute.amlcompute` (see fninfer/_compute.py)."""

from fninfer._compute import AmlCompute, ScaleSettings

__all__ = ["AmlCompute", "ScaleSettings"]
