"""`fninfer.core.databricks`, mirroring `azureml.core.databricks` (an Environment's Databricks section: recorded)."""

from fninfer._environment_sections import (
    DatabricksSection,
    EggLibrary,
    JarLibrary,
    MavenLibrary,
    PyPiLibrary,
    RCranLibrary,
)

__all__ = ["DatabricksSection", "EggLibrary", "JarLibrary", "MavenLibrary", "PyPiLibrary", "RCranLibrary"]
