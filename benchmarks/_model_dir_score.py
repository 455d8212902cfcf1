"""The benchmark's entry script for Azure ML's own scoring server: the seeds' run(), the model from AZUREML_MODEL_DIR
(that server has no registry; the v1 idiom `os.path.join(os.getenv('AZUREML_MODEL_DIR'), 'model.pkl')`)."""

import json
import os

import joblib
import numpy as np


def init():
    global model
    model = joblib.load(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "model.pkl"))


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    return model.predict(data).tolist()
