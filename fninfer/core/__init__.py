"""`fninfer.core`, mirroring `azureml.core`."""

from fninfer._dataset import Dataset
from fninfer._datastore import Datastore
from fninfer._environment import Environment
from fninfer._experiment import Experiment
from fninfer._model import Model
from fninfer._run import Run
from fninfer._runconfig import RunConfiguration
from fninfer._version import VERSION
from fninfer._webservice import Webservice
from fninfer._workspace import Workspace

__version__ = VERSION

__all__ = [
    "VERSION",
    "Dataset",
    "Datastore",
    "Environment",
    "Experiment",
    "Model",
    "Run",
    "RunConfiguration",
    "Webservice",
    "Workspace",
]
