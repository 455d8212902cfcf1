"""`Run.get_context()` inside an activated run context, against a real Azurite; then the same run's history through
the app's HTTP API on a real host (`Run(experiment, run_id)`, `Run.get`), and the seeds' `run.register_model`."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from fninfer.core import Experiment, Model, Run, Workspace
from shared.core import layout
from shared.core.errors import Conflict, InvalidInput, NotFound
from shared.core.hashing import CHUNK_SIZE, combined_sha256, sha256_file
from shared.core.storage import Storage
from shared.registry import models
from shared.runs import run_context
from tests.hosting import RunningHost


@pytest.fixture
def beside_the_app(app_host: RunningHost, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run context activated in this process (not inside the app): its workspace is the config beside it."""
    monkeypatch.setenv("FNINFER_CONFIG", str(app_host.config_path))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features, labels = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("model") / "model.pkl"
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), path)
    return path


def test_a_step_logs_tags_uploads_and_registers_from_its_context(
    storage: Storage, model_file: Path, tmp_path: Path, unique: str, beside_the_app: None
) -> None:
    pipeline_id, step_id = f"pipe-{unique}", f"step-{unique}"
    with run_context.activate(storage, pipeline_id, "exp"):
        pass
    with run_context.activate(storage, step_id, "exp", parent_run_id=pipeline_id, name="summarise"):
        run = Run.get_context()
        assert (run.id, run.experiment.name, run.parent.id, run.parent.parent) == (step_id, "exp", pipeline_id, None)
        run.log("accuracy", 0.9)
        run.log("accuracy", np.float64(0.95))
        run.log("rows", 23, description="rows scored")
        run.log_list("thresholds", [0.1, 0.5])
        run.log_row("citrus", fruit="orange", size=10)
        run.log_row("citrus", fruit="lemon", size=7)
        run.log_table("Y over X", {"x": [1, 2], "y": [0.6, 0.7]})
        run.tag("candidate")
        run.set_tags({"stage": "test"})
        run.upload_file("outputs/model.pkl", str(model_file))
        with pytest.raises(Conflict, match="already has a file"):
            run.upload_file("outputs/model.pkl", str(model_file))
        model = run.register_model(
            model_name=f"classification_model_{unique}", model_path="outputs/model.pkl", description="A model"
        )
        assert run.get_status() == "Running"  # a step run the engine has no record of yet
    assert run_context.current() is None

    assert run.get_metrics() == {
        "accuracy": [0.9, 0.95],
        "rows": 23,
        "thresholds": [0.1, 0.5],
        "citrus": {"fruit": ["orange", "lemon"], "size": [10, 7]},
        "Y over X": {"x": [1, 2], "y": [0.6, 0.7]},
    }
    assert run.get_metrics(name="rows") == {"rows": 23}
    assert run.get_tags() == {"candidate": None, "stage": "test"}
    assert run.get_file_names() == ["outputs/model.pkl"]
    # The same record Model.register writes: version 1, the file's sha256, the run named in its properties.
    record = models.get_model(storage, f"classification_model_{unique}")
    assert (model.version, record["version"], record["single_file"]) == (1, 1, True)
    assert record["sha256"] == combined_sha256([("model.pkl", sha256_file(model_file)[0])])
    assert record["properties"]["azureml.runId"] == step_id and record["description"] == "A model"
    assert model.run_id == step_id  # as Azure ML's Run.register_model: the model names its run
    assert [
        m.version for m in Model.list(run.experiment.workspace, f"classification_model_{unique}", run_id=step_id)
    ] == [1]
    assert len(storage.list_names(layout.MODELS_CONTAINER, f"classification_model_{unique}/")) == 1


def test_many_writers_log_to_one_run_without_losing_a_value(storage: Storage, unique: str) -> None:
    run_id = f"busy-{unique}"

    def writer(index: int) -> None:
        with run_context.activate(storage, run_id, "exp"):
            run = Run.get_context()
            for value in range(10):
                run.log_row("progress", writer=index, value=value)

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with run_context.activate(storage, run_id, "exp"):
        table = Run.get_context().get_metrics()["progress"]
    assert len(table["value"]) == 60
    for index in range(6):  # each writer's rows, in the order it logged them
        assert [v for w, v in zip(table["writer"], table["value"], strict=True) if w == index] == list(range(10))


def test_a_runs_history_through_the_api(
    ws: Workspace, storage: Storage, model_file: Path, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = f"train-{unique}"
    with run_context.activate(storage, run_id, "training"):
        context = Run.get_context()
        context.log("accuracy", 0.9)
        context.upload_file("outputs/model.pkl", str(model_file))

    run = Run(Experiment(ws, "training"), run_id)
    assert (run.id, run.parent, run.get_status()) == (run_id, None, "Running")
    run.log("accuracy", 0.97)
    run.log_table("scores", {"x": [1], "y": [2]})
    assert run.get_metrics() == {"accuracy": [0.9, 0.97], "scores": {"x": [1], "y": [2]}}
    run.tag("reviewed", "yes")
    assert Run.get(ws, run_id).get_tags() == {"reviewed": "yes"}
    run.remove_tags(["reviewed"])
    assert run.get_tags() == {}

    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "config.json").write_text('{"a": 1}')
    (folder / "large.bin").write_bytes(os.urandom(2 * CHUNK_SIZE + 5))  # copied block by block
    assert run.upload_folder("outputs/bundle", str(folder)) == [
        "outputs/bundle/large.bin",
        "outputs/bundle/sub/config.json",
    ]

    # -- the seed, as written ---------------------------------------------------------------------------------------
    run.register_model(
        model_name="classification_model", model_path="outputs/model.pkl", description="A classification model"
    )
    # ----------------------------------------------------------------------------------------------------------------
    registered = Model(ws, "classification_model")
    assert registered.properties["azureml.runId"] == run_id and registered.description == "A classification model"
    loaded = joblib.load(Model.get_model_path("classification_model", _workspace=ws))
    assert loaded.predict(np.array([[5.1, 3.5, 1.4, 0.2]])).tolist() == [0]

    bundle = run.register_model(
        f"bundle_{unique}", "outputs/bundle/", tags={"kind": "bundle"}, model_framework="Custom"
    )
    assert bundle.tags == {"kind": "bundle"} and bundle.properties["azureml.modelFramework"] == "Custom"
    monkeypatch.chdir(tmp_path)
    downloaded = Path(bundle.download(target_dir="downloaded"))
    assert (downloaded / "large.bin").read_bytes() == (folder / "large.bin").read_bytes()
    assert (downloaded / "sub" / "config.json").read_text() == '{"a": 1}'
    assert Path(run.download_file("outputs/bundle/sub/config.json", "one")).read_text() == '{"a": 1}'

    # -- what a caller gets wrong, named ----------------------------------------------------------------------------
    with pytest.raises(NotFound, match="run 'no-such-run' does not exist"):
        Run(Experiment(ws, "training"), "no-such-run")
    with pytest.raises(NotFound, match=r"no file or folder 'outputs/missing\.pkl'"):
        run.register_model("m", "outputs/missing.pkl")
    with pytest.raises(InvalidInput, match="not a number or a string"):
        run.log("accuracy", {"a": 1})
    with pytest.raises(InvalidInput, match="log_list"):
        run.log("accuracy", [1, 2])
    with pytest.raises(InvalidInput, match="model name"):
        run.register_model("bad/name", "outputs/model.pkl")


def test_a_pipeline_runs_tags_and_status_come_from_its_record(
    ws: Workspace, storage: Storage, unique: str, beside_the_app: None
) -> None:
    run_id, step_id = f"pipeline-{unique}", f"step-{unique}"
    record = {
        "id": run_id,
        "experiment": "Batch_Prediction",
        "status": "Finished",
        "tags": {"azureml.pipelineid": "p1"},
        "created_time": "2026-01-01T00:00:00+00:00",
        "start_time": "2026-01-01T00:00:01+00:00",
        "end_time": "2026-01-01T00:00:09+00:00",
        "error": None,
        "steps": {"batch-score": {"id": step_id, "type": "ParallelRunStep"}},
    }
    step_record = {
        **record,
        "id": step_id,
        "parent": run_id,
        "name": "batch-score",
        "type": "ParallelRunStep",
        "tags": {},
        "step": {},
        "error": None,
        "plan": None,
        "counts": None,
    }  # as shared/pipelines/engine/step_start.py writes a step run
    storage.create_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(run_id), record)
    storage.create_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(step_id), step_record)
    with run_context.activate(storage, step_id, "Batch_Prediction", parent_run_id=run_id):
        step = Run.get_context()
        step.parent.log("rows", 23)  # to the parent, as Azure ML's docs show
        assert step.get_status() == "Finished" and step.get_details()["name"] == "batch-score"
    pipeline = Run(Experiment(ws, "Batch_Prediction"), run_id)
    pipeline.tag("reviewed")
    assert pipeline.get_tags() == {"azureml.pipelineid": "p1", "reviewed": None}
    assert pipeline.get_details()["endTimeUtc"] == record["end_time"]
    assert pipeline.get_metrics(recursive=True) == {run_id: {"rows": 23}, step_id: {}}
