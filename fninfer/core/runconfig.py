"""`fninfer.core.runconfig`, mirroring `azureml.core.runconfig`."""

from fninfer._environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, CondaDependencies, DockerSection, PythonSection
from fninfer._environment_sections import (
    DatabricksSection,
    EggLibrary,
    JarLibrary,
    MavenLibrary,
    PyPiLibrary,
    RCranLibrary,
    SparkSection,
)
from fninfer._runconfig import (
    AmlComputeConfiguration,
    DockerConfiguration,
    HdiConfiguration,
    HistoryConfiguration,
    KubernetesComputeConfiguration,
    MpiConfiguration,
    ParallelTaskConfiguration,
    PyTorchConfiguration,
    RunConfiguration,
    SparkConfiguration,
    TensorflowConfiguration,
)

__all__ = [
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "AmlComputeConfiguration",
    "CondaDependencies",
    "DatabricksSection",
    "DockerConfiguration",
    "DockerSection",
    "EggLibrary",
    "HdiConfiguration",
    "HistoryConfiguration",
    "JarLibrary",
    "KubernetesComputeConfiguration",
    "MavenLibrary",
    "MpiConfiguration",
    "ParallelTaskConfiguration",
    "PyPiLibrary",
    "PyTorchConfiguration",
    "PythonSection",
    "RCranLibrary",
    "RunConfiguration",
    "SparkConfiguration",
    "SparkSection",
    "TensorflowConfiguration",
]
