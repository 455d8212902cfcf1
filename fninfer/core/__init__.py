"""`fninfer.core`, mirroring `azureml.core`."""

from fninfer._compute import ComputeTarget
from fninfer._dataset import Dataset
from fninfer._datastore import Datastore
from fninfer._environment import Environment
from fninfer._experiment import Experiment
from fninfer._model import Model
from fninfer._workspace import Workspace

__all__ = ["ComputeTarget", "Dataset", "Datastore", "Environment", "Experiment", "Model", "Workspace"]
