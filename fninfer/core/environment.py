"""`fninfer.core.environment`, mirroring `azureml.core.environment`."""

from fninfer._environment import CondaDependencies, Environment

__all__ = ["CondaDependencies", "Environment"]
