"""AZUREML_MODEL_DIR as Azure ML sets it, for each service and batch step on its own, in one process."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
from pathlib import Path

import joblib
import pytest

from fninfer.core import Environment, Experiment, Workspace
from fninfer.core.model import InferenceConfig, Model
from fninfer.core.webservice import AciWebservice, Webservice

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "services"


def deploy(ws: Workspace, name: str, script: str, models: list[Model], tmp_path: Path) -> Webservice:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(FIXTURES / script, folder / "score.py")
    inference = InferenceConfig(entry_script="score.py", source_directory=folder)
    service = Model.deploy(ws, name, models, inference, AciWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=90)
    return service


def register(ws: Workspace, tmp_path: Path, name: str, content: object) -> Model:
    path = tmp_path / f"{name}.pkl"
    joblib.dump(content, path)
    return Model.register(ws, model_path=str(path), model_name=name)


def test_two_services_each_see_their_own_model_dir_in_interleaved_calls(
    ws: Workspace, tmp_path: Path, unique: str
) -> None:
    models = {}
    for label in ("alpha", "beta"):
        path = tmp_path / label / "model.pkl"  # the file every v1 tutorial names
        path.parent.mkdir()
        joblib.dump({"model": label}, path)
        models[label] = Model.register(ws, model_path=str(path), model_name=f"{label}_{unique}")
    services = {
        label: deploy(ws, f"dir-{label}-{unique}", "model_dir.py", [models[label]], tmp_path) for label in models
    }

    def call(label: str) -> tuple[str, dict[str, object]]:
        return label, services[label].run(json.dumps({}))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # the two services' calls interleave on the host
        answers = list(pool.map(call, ["alpha", "beta"] * 20))
    for label, answer in answers:
        model = models[label]
        expected_dir = answer["init_dir"]
        assert Path(str(expected_dir)).parts[-2:] == (model.name, str(model.version))  # .../<name>/<version>
        assert answer["model"] == answer["again"] == {"model": label}
        assert answer["before"] == answer["after"] == expected_dir and answer["present"] is True
    for service in services.values():
        service.delete()


def test_several_models_are_under_the_parent_as_name_version(ws: Workspace, tmp_path: Path, unique: str) -> None:
    first = register(ws, tmp_path, f"first_{unique}", "one")
    second = register(ws, tmp_path, f"second_{unique}", "two")
    service = deploy(ws, f"dir-many-{unique}", "model_dir_many.py", [first, second], tmp_path)
    answer = service.run("{}")
    assert answer["files"] == [
        f"{first.name}/{first.version}/{first.name}.pkl",
        f"{second.name}/{second.version}/{second.name}.pkl",
    ]
    assert sorted(answer["loaded"].values()) == ["one", "two"]
    service.delete()


def test_a_batch_step_sees_its_models_dir(
    ws: Workspace, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fninfer.core import Dataset
    from fninfer.pipeline.core import Pipeline, PipelineData
    from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep

    monkeypatch.chdir(tmp_path)
    model_file = tmp_path / "model" / "model.pkl"
    model_file.parent.mkdir()
    joblib.dump("batch model", model_file)
    model = Model.register(ws, model_path=str(model_file), model_name=f"batch_{unique}")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for index in range(3):
        (inputs / f"{index}.csv").write_text("x\n1\n")
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir=str(inputs), target_path=f"dir-{unique}", overwrite=True, show_progress=False)
    dataset = Dataset.File.from_files(path=(datastore, f"dir-{unique}/*.csv"))
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "entry.py").write_text(
        "import os\nimport joblib\n\n"
        "def init():\n    global model\n"
        "    model = joblib.load(os.path.join(os.getenv('AZUREML_MODEL_DIR'), 'model.pkl'))\n\n"
        "def run(mini_batch):\n"
        "    here = os.environ['AZUREML_MODEL_DIR'].split(os.sep)[-2:]\n"
        "    return [f'{os.path.basename(f)}: {model} {\"/\".join(here)}' for f in mini_batch]\n"
    )
    config = ParallelRunConfig(
        source_directory=str(scripts),
        entry_script="entry.py",
        mini_batch_size="2",
        error_threshold=0,
        output_action="append_row",
        environment=Environment("batch_environment"),
        compute_target="aml-cluster",
        node_count=1,
    )
    step = ParallelRunStep(
        name="model-dir",
        parallel_run_config=config,
        inputs=[dataset.as_named_input("batch_data")],
        output=PipelineData(name="inferences", datastore=datastore),
        models=[model],
        allow_reuse=False,
    )
    run = Experiment(ws, f"model_dir_{unique}").submit(Pipeline(workspace=ws, steps=[step]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    next(run.get_children()).get_output_data("inferences").download(local_path="out")
    lines = [
        line
        for root, _, names in os.walk("out")
        for name in names
        if name.endswith("parallel_run_step.txt")
        for line in (Path(root) / name).read_text().splitlines()
    ]
    assert sorted(lines) == [f"{i}.csv: batch model {model.name}/{model.version}" for i in range(3)]
