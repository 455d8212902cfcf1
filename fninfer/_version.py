"""fninfer's version, as `azureml.core.VERSION` gives the SDK's: the installed distribution's."""

from importlib import metadata

try:
    VERSION = metadata.version("fninfer")
except metadata.PackageNotFoundError:  # run from a source folder that was never installed
    VERSION = "0.0.0+unknown"
