"""`fninfer.core.runconfig`, mirroring `azureml.core.runconfig`."""

from fninfer._environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, CondaDependencies
from fninfer._runconfig import RunConfiguration

__all__ = ["DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE", "CondaDependencies", "RunConfiguration"]
