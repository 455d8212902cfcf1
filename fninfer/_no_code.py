"""No-code deployment: `Model.deploy(ws, name, [model])` without an InferenceConfig, as Azure ML offers it for models
registered with a framework it can serve by itself.

fninfer serves `Model.Framework.SCIKITLEARN` this way: an entry script it writes loads the model file with joblib and
answers `{"data": [[...], ...], "method": "predict"}` with `{"predict": [...]}` (`method` may be any of the estimator's
prediction methods, `predict_proba` for class probabilities). ONNX and TensorFlow models need their runtimes, which
the Function App does not carry, so they are refused with a message saying what to do instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fninfer._exceptions import invalid
from fninfer._inference_config import InferenceConfig

SCIKITLEARN = "ScikitLearn"
METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform", "score_samples")

_SCRIPT = '''"""Written by fninfer for a no-code deployment of the ScikitLearn model {name!r}."""

import json

import joblib
import numpy as np

from fninfer.core.model import Model

METHODS = {methods!r}


def init():
    global model
    model = joblib.load(Model.get_model_path({name!r}))


def run(raw_data):
    request = json.loads(raw_data)
    method = request.get("method", "predict")
    if method not in METHODS or not hasattr(model, method):
        offered = [name for name in METHODS if hasattr(model, name)]
        raise ValueError(f"method {{method!r}} is not one of this model's {{offered}}")
    result = getattr(model, method)(np.array(request["data"]))
    return {{method: result.tolist()}}
'''


def no_code_inference_config(models: list[Any]) -> InferenceConfig:
    """An InferenceConfig serving one ScikitLearn model with fninfer's own entry script; the error names what the
    model lacks otherwise."""
    if len(models) != 1:
        raise invalid(
            f"a deployment without an inference_config serves exactly one model (got {len(models)}): give an "
            "InferenceConfig with your entry script to serve several",
            field="inference_config",
        )
    (model,) = models
    framework = getattr(model, "model_framework", None)
    if framework != SCIKITLEARN:
        hint = (
            "register it with model_framework=Model.Framework.SCIKITLEARN"
            if framework in (None, "Custom")
            else f"fninfer serves {SCIKITLEARN} models without code; {framework} needs its runtime in your own "
            "entry script"
        )
        raise invalid(
            f"model {model.id} (framework {framework!r}) cannot be deployed without an inference_config: {hint}, "
            "or pass an InferenceConfig(entry_script=...)",
            field="inference_config",
        )
    folder = Path(tempfile.mkdtemp(prefix="fninfer-no-code-"))
    (folder / "score.py").write_text(_SCRIPT.format(name=model.name, methods=METHODS))
    return InferenceConfig(entry_script="score.py", source_directory=folder)
