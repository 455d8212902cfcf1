"""`fninfer.core`, mirroring `azureml.core`."""

from fninfer._compute import ComputeTarget
from fninfer._dataset import Dataset
from fninfer._datastore import Datastore
from fninfer._environment import Environment
from fninfer._experiment import Experiment
from fninfer._model import Model
from fninfer._run import Run
from fninfer._runconfig import RunConfiguration
from fninfer._script_run import ScriptRun
from fninfer._script_run_config import ScriptRunConfig
from fninfer._version import VERSION
from fninfer._webservice import Webservice
from fninfer._workspace import Workspace

__version__ = VERSION

__all__ = [
    "VERSION",
    "ComputeTarget",
    "Dataset",
    "Datastore",
    "Environment",
    "Experiment",
    "Model",
    "Run",
    "RunConfiguration",
    "ScriptRun",
    "ScriptRunConfig",
    "Webservice",
    "Workspace",
]
