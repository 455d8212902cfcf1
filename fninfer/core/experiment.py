"""`fninfer.core.experiment`, mirroring `azureml.core.experiment`."""

from fninfer._experiment import Experiment

__all__ = ["Experiment"]
