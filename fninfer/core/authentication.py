"""`fninfer.core.authentication`, mirroring `azureml.core.authentication`."""

from fninfer._auth import (
    AbstractAuthentication,
    InteractiveLoginAuthentication,
    MsiAuthentication,
    ServicePrincipalAuthentication,
)

__all__ = [
    "AbstractAuthentication",
    "InteractiveLoginAuthentication",
    "MsiAuthentication",
    "ServicePrincipalAuthentication",
]
