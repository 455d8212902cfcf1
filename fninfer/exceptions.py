"""`fninfer.exceptions`, mirroring `azureml.exceptions` (every class is also a `shared.core.errors.FninferError`)."""

from fninfer._exceptions import (
    ActivityFailedException,
    AuthenticationException,
    AzureMLAggregatedException,
    AzureMLException,
    ComputeTargetException,
    DatasetTimestampMissingError,
    DiscoveryUrlNotFoundException,
    ExperimentExecutionException,
    ModelNotFoundException,
    ModelPathNotFoundException,
    ParallelRunException,
    ProjectSystemException,
    RunConfigurationException,
    RunEnvironmentException,
    ServiceException,
    SnapshotException,
    TrainingException,
    UserErrorException,
    WebserviceException,
    WorkspaceException,
    WorkspacePrivateEndpointException,
)
from fninfer._version import VERSION

__version__ = VERSION

__all__ = [
    "VERSION",
    "ActivityFailedException",
    "AuthenticationException",
    "AzureMLAggregatedException",
    "AzureMLException",
    "ComputeTargetException",
    "DatasetTimestampMissingError",
    "DiscoveryUrlNotFoundException",
    "ExperimentExecutionException",
    "ModelNotFoundException",
    "ModelPathNotFoundException",
    "ParallelRunException",
    "ProjectSystemException",
    "RunConfigurationException",
    "RunEnvironmentException",
    "ServiceException",
    "SnapshotException",
    "TrainingException",
    "UserErrorException",
    "WebserviceException",
    "WorkspaceException",
    "WorkspacePrivateEndpointException",
]
