"""`fninfer.core.run`, mirroring `azureml.core.run`."""

from fninfer._run import Run

__all__ = ["Run"]
