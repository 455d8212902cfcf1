"""`fninfer.core.model`, mirroring `azureml.core.model`."""

from fninfer._inference_config import InferenceConfig
from fninfer._model import Model

__all__ = ["InferenceConfig", "Model"]
