"""`fninfer.core.conda_dependencies`, mirroring `azureml.core.conda_dependencies`."""

from fninfer._environment import CondaDependencies

__all__ = ["CondaDependencies"]
