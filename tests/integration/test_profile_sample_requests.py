"""Microsoft's v1 model-profiling how-to, import-swapped, with scikit-learn's diabetes data: one JSON request body per
line of a text file, uploaded with `upload_files`, read as a tabular dataset with `separator='\\n'` and no headers,
registered, and given to `Model.profile`. Adaptation: the model is trained here (the how-to registers its own)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from fninfer.core import Datastore, Environment, Model, Workspace
from fninfer.core.dataset import Dataset
from fninfer.core.model import InferenceConfig
from fninfer.data import dataset_type_definitions
from fninfer.data.data_reference import DataReference

SCORE = """
import json

import joblib
import numpy as np

from fninfer.core.model import Model


def init():
    global model
    model = joblib.load(Model.get_model_path("{name}"))


def run(raw_data):
    return model.predict(np.array(json.loads(raw_data)["data"])).tolist()
"""


@pytest.mark.parametrize("infer_column_types", [True, False])
def test_profile_over_one_request_per_line(
    ws: Workspace, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch, infer_column_types: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    features, target = load_diabetes(return_X_y=True)
    joblib.dump(Ridge().fit(features, target), "model.pkl")
    model = Model.register(ws, model_path="model.pkl", model_name=f"diabetes_{unique}")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text(SCORE.format(name=model.name))

    # the how-to, as written
    input_json = {"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}
    serialized_input_json = json.dumps(input_json)
    dataset_content = []
    for _ in range(100):
        dataset_content.append(serialized_input_json)
    dataset_content = "\n".join(dataset_content)
    file_name = "sample_request_data.txt"
    f = open(file_name, "w")  # noqa: SIM115 (the how-to's own code)
    f.write(dataset_content)
    f.close()

    data_store = Datastore.get_default(ws)
    uploaded = data_store.upload_files(["./" + file_name], target_path=f"sample_request_data_{unique}")
    assert isinstance(uploaded, DataReference)  # what Azure ML returns; a dataset takes it as its path
    datastore_path = [(data_store, f"sample_request_data_{unique}" + "/" + file_name)]
    sample_request_data = Dataset.Tabular.from_delimited_files(
        datastore_path,
        separator="\n",
        infer_column_types=infer_column_types,
        header=dataset_type_definitions.PromoteHeadersBehavior.NO_HEADERS,
    )
    sample_request_data = sample_request_data.register(
        workspace=ws, name=f"sample_request_data_{unique}", create_new_version=True
    )
    rows = sample_request_data.to_pandas_dataframe()
    assert list(rows.columns) == ["Column1"] and len(rows) == 100 and rows["Column1"][0] == serialized_input_json
    same = Dataset.Tabular.from_delimited_files(
        uploaded.path(file_name), separator="\n", header=dataset_type_definitions.PromoteHeadersBehavior.NO_HEADERS
    )
    assert same.to_pandas_dataframe().equals(rows)

    inference_config = InferenceConfig(
        entry_script="score.py", source_directory="src", environment=Environment("profile-env")
    )
    profile_name = "diabetes-%s" % str(uuid.uuid4())[:8]  # noqa: UP031 (the how-to's own code)
    profile = Model.profile(ws, profile_name, [model], inference_config, input_dataset=sample_request_data)
    profile.wait_for_completion(False)
    details = profile.get_details()
    assert details["state"] == "Succeeded", profile.error
    assert details["totalQueries"] == 100 and details["successQueries"] == 100
