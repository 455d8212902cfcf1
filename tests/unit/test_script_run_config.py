"""ScriptRunConfig's constructor, as azureml.core.ScriptRunConfig's: what it records, what it takes from a
RunConfiguration, how a distributed job is recorded (and refused at submit, naming why), `command`, `resume_from`,
and how arguments of any type reach the script step. No app is needed: `_spec` refuses before it uploads anything,
and the script step's arguments are read from a PythonScriptStep built the way submit builds it."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import pytest

import fninfer.core
from fninfer.core import Datastore, Environment, RunConfiguration, ScriptRun, ScriptRunConfig
from fninfer.core import script_run as script_run_module
from fninfer.core import script_run_config as script_run_config_module
from fninfer.core.runconfig import DockerConfiguration, MpiConfiguration, PyTorchConfiguration, TensorflowConfiguration
from fninfer.data.datapath import DataPath, DataPathComputeBinding
from fninfer.data.file_dataset import FileDataset
from fninfer.exceptions import RunConfigurationException, UserErrorException


def test_it_is_exported_where_azure_ml_has_it_with_azure_mls_signature() -> None:
    assert fninfer.core.ScriptRunConfig is script_run_config_module.ScriptRunConfig is ScriptRunConfig
    assert fninfer.core.ScriptRun is script_run_module.ScriptRun is ScriptRun
    assert list(inspect.signature(ScriptRunConfig).parameters) == [
        "source_directory",
        "script",
        "arguments",
        "run_config",
        "_telemetry_values",
        "compute_target",
        "environment",
        "distributed_job_config",
        "resume_from",
        "max_run_duration_seconds",
        "command",
        "docker_runtime_config",
    ]
    assert ScriptRun.RUN_TYPE == "azureml.scriptrun" and callable(script_run_config_module.submit)


def test_the_defaults_are_azure_mls() -> None:
    arguments = ["--alpha", 0.5, "--epochs", 10]
    src = ScriptRunConfig(".", "train.py", arguments=arguments)
    assert (src.source_directory, src.script, src.command, src.arguments) == (".", "train.py", None, arguments)
    config = src.run_config
    assert isinstance(config, RunConfiguration) and config.target == "local"
    assert config.environment.name == "default-environment"
    assert config.max_run_duration_seconds == ScriptRunConfig.MAX_DURATION_SECONDS_DEFAULT == 2592000
    assert (config.node_count, config.framework, config.communicator) == (1, "Python", "None")


def test_compute_target_environment_and_docker_go_into_the_run_configuration() -> None:
    env = Environment("train-env")
    env.docker.enabled = True
    env.docker.shm_size = "4g"
    src = ScriptRunConfig(".", "train.py", compute_target="cpu-cluster", environment=env, max_run_duration_seconds=60)
    assert src.run_config.target == "cpu-cluster" and src.run_config.environment is env
    assert src.run_config.max_run_duration_seconds == 60
    assert (src.run_config.docker.use_docker, src.run_config.docker.shm_size) == (True, "4g")
    docker = DockerConfiguration(use_docker=True)
    assert ScriptRunConfig(".", "t.py", docker_runtime_config=docker).run_config.docker is docker
    with pytest.raises(RunConfigurationException, match="must be a 'DockerConfiguration'"):
        ScriptRunConfig(".", "t.py", docker_runtime_config={"use_docker": True})


def test_a_run_configuration_is_used_as_given(caplog: pytest.LogCaptureFixture) -> None:
    config = RunConfiguration(script="from_config.py", arguments=["--from", "config"])
    src = ScriptRunConfig("src", run_config=config)
    assert src.run_config is config and (src.script, src.arguments) == ("from_config.py", ["--from", "config"])
    with caplog.at_level(logging.WARNING):
        mine = ScriptRunConfig("src", "mine.py", ["--mine"], run_config=config, compute_target="gpu")
    assert (mine.script, mine.arguments) == ("mine.py", ["--mine"]) and mine.run_config.target == "local"
    assert "will be ignored" in caplog.text and "takes precedence" in caplog.text


@pytest.mark.parametrize(
    ("distribution", "recorded"),
    [
        (MpiConfiguration(process_count_per_node=2, node_count=3), (3, "Python", "IntelMpi")),
        (PyTorchConfiguration(node_count=2), (2, "PyTorch", "nccl")),
        (TensorflowConfiguration(worker_count=2), (2, "TensorFlow", "ParameterServer")),
    ],
)
def test_a_distributed_job_is_recorded_and_refused_at_submit_saying_why(
    distribution: object, recorded: tuple[int, str, str]
) -> None:
    src = ScriptRunConfig(".", "train.py", distributed_job_config=distribution)
    config = src.run_config
    assert (config.node_count, config.framework, config.communicator) == recorded
    with pytest.raises(RunConfigurationException, match=r"asks for \d+ nodes.*one process on one Function App"):
        src._spec(None)


def test_one_node_with_several_processes_is_refused_too_and_one_process_is_not() -> None:
    several = ScriptRunConfig(".", "t.py", distributed_job_config=PyTorchConfiguration(process_count=4))
    with pytest.raises(RunConfigurationException, match="asks for 4 processes"):
        several._spec(None)
    one = ScriptRunConfig(".", "missing.py", distributed_job_config=MpiConfiguration(node_count=1))
    with pytest.raises(UserErrorException, match=r"'missing\.py' is not a file"):  # past the check: the script
        one._spec(None)
    with pytest.raises(RunConfigurationException, match="'Nccl' or 'Gloo'"):
        PyTorchConfiguration(communication_backend="mpi")
    with pytest.raises(RunConfigurationException, match=r"must be an 'azureml\.core\.runconfig\.Tensorflow"):
        ScriptRunConfig(".", "t.py", distributed_job_config={"node_count": 2})


def test_a_command_runs_a_python_script_and_nothing_else(tmp_path: Path) -> None:
    assert ScriptRunConfig(".", command=["python", "-u", "train.py", "--n", 3])._entry() == ("train.py", ["--n", 3])
    assert ScriptRunConfig(".", command="python3 train.py --n 3")._entry() == ("train.py", ["--n", "3"])
    with pytest.raises(UserErrorException, match=r"not 'python <script>\.py <arguments>'.*container"):
        ScriptRunConfig(".", command=["ls", "-l"])._entry()
    with pytest.raises(UserErrorException, match="Both command and script"):
        ScriptRunConfig(".", "train.py", command=["python", "train.py"])._entry()
    with pytest.raises(UserErrorException, match="needs a 'script'"):
        ScriptRunConfig(".")._entry()
    assert ScriptRunConfig(".", "t.py", arguments="--a 1 --b 'two words'")._entry() == (
        "t.py",
        ["--a", "1", "--b", "two words"],
    )


def test_arguments_of_any_type_reach_the_script_step_as_text_or_data(tmp_path: Path) -> None:
    datastore = Datastore.__new__(Datastore)
    datastore.name = "workspaceblobstore"
    reference = DataPath(datastore, "checkpoints/run-1").create_data_reference(
        "checkpoints", DataPathComputeBinding(mode="download")
    )
    src = ScriptRunConfig(
        ".", "t.py", arguments=["--rate", 0.5, "--n", 3, "--flag", True, "--path", tmp_path, "--ckpt", reference]
    )
    converted = [src._argument(value) for value in src.arguments]
    assert converted[:9] == ["--rate", 0.5, "--n", 3, "--flag", True, "--path", str(tmp_path), "--ckpt"]
    assert converted[9] is reference
    assert src._argument(None) == "None" and src._argument(["a", 1]) == "['a', 1]"  # str(), as Azure ML passes them


def test_resume_from_passes_the_checkpoint_folder_as_azure_ml_does() -> None:
    datastore = Datastore.__new__(Datastore)
    datastore.name = "workspaceblobstore"
    src = ScriptRunConfig(".", "train.py", arguments=["--epochs", 5], resume_from=DataPath(datastore, "ckpt"))
    assert src.arguments == ["--epochs", 5, "--resume-from", "$AZUREML_DATAREFERENCE_MODEL_LOCATION"]
    reference = src.run_config.data_references["MODEL_LOCATION"]
    assert src._argument(src.arguments[-1]) is reference and reference.path_on_datastore == "ckpt"
    assert reference in src._inputs()
    with pytest.raises(UserErrorException, match="should be of type DataPath"):
        ScriptRunConfig(".", "train.py", resume_from="ckpt")


def test_a_dataset_itself_is_refused_in_the_arguments_as_in_azure_ml() -> None:
    dataset = FileDataset.__new__(FileDataset)
    with pytest.raises(UserErrorException, match="Dataset cannot be used directly in a run"):
        ScriptRunConfig(".", "t.py")._argument(dataset)


def test_get_run_config_from_script_run_is_a_copy_with_the_script_set() -> None:
    src = ScriptRunConfig(".", "train.py", arguments=["--a", 1], compute_target="cpu")
    config = script_run_config_module.get_run_config_from_script_run(src)
    assert config is not src.run_config and (config.script, config.arguments, config.target) == (
        "train.py",
        ["--a", 1],
        "cpu",
    )
    assert src.run_config.script is None
