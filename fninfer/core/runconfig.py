"""`fninfer.core.runconfig`, mirroring the names of `azureml.core.runconfig` that batch how-tos import. The image
names are Azure ML's; on Functions no container image is used (the Function App's Python runs the scripts)."""

from fninfer._environment import CondaDependencies

DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"

__all__ = ["DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE", "CondaDependencies"]
