"""`fninfer.core.resource_configuration`, mirroring `azureml.core.resource_configuration`."""

from fninfer._resource_configuration import ResourceConfiguration

__all__ = ["ResourceConfiguration"]
