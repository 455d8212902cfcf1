"""`fninfer.core.environment`, mirroring `azureml.core.environment`."""

from fninfer._environment import (
    DEFAULT_CPU_IMAGE,
    DEFAULT_GPU_IMAGE,
    PYTHON_DEFAULT_VERSION,
    CondaDependencies,
    DockerImageDetails,
    DockerSection,
    Environment,
    PythonSection,
)
from fninfer._environment_sections import (
    ContainerRegistry,
    DatabricksSection,
    DockerBuildContext,
    DockerImagePlatform,
    RCranPackage,
    RGitHubPackage,
    RSection,
    SparkPackage,
    SparkSection,
)

__all__ = [
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "PYTHON_DEFAULT_VERSION",
    "CondaDependencies",
    "ContainerRegistry",
    "DatabricksSection",
    "DockerBuildContext",
    "DockerImageDetails",
    "DockerImagePlatform",
    "DockerSection",
    "Environment",
    "PythonSection",
    "RCranPackage",
    "RGitHubPackage",
    "RSection",
    "SparkPackage",
    "SparkSection",
]
