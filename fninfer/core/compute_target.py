"""`fninfer.core.compute_target`, mirroring `azureml.core.compute_target`."""

from fninfer._compute import ComputeTarget, ComputeTargetException

__all__ = ["ComputeTarget", "ComputeTargetException"]
