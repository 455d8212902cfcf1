"""`fninfer.core.compute.aks`, mirroring `azureml.core.compute.aks` (recorded settings: see fninfer/_compute.py)."""

from fninfer._compute import AksCompute, AksUpdateConfiguration, SslConfiguration

__all__ = ["AksCompute", "AksUpdateConfiguration", "SslConfiguration"]
