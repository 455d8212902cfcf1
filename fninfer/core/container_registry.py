"""`fninfer.core.container_registry`, mirroring `azureml.core.container_registry` (recorded: no image is pulled)."""

from fninfer._environment_sections import ContainerRegistry, RegistryIdentity

__all__ = ["ContainerRegistry", "RegistryIdentity"]
