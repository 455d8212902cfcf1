"""`fninfer.core.model`, mirroring `azureml.core.model`."""

from fninfer._inference_config import InferenceConfig
from fninfer._model import Model
from fninfer._package import ModelPackage
from fninfer._profile import ModelProfile
from fninfer._resource_configuration import ResourceConfiguration

__all__ = ["InferenceConfig", "Model", "ModelPackage", "ModelProfile", "ResourceConfiguration"]
