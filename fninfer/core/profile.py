"""`fninfer.core.profile`, mirroring `azureml.core.profile`."""

from fninfer._profile import ModelProfile

__all__ = ["ModelProfile"]
