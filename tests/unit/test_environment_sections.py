"""Environment's sections and CondaDependencies as azureml.core has them: the files Azure ML's save_to_directory
writes read back in fninfer, fninfer writes the same format, and the helpers v1 code calls behave as Azure ML's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fninfer.core.conda_dependencies import CondaDependencies
from fninfer.core.environment import (
    ContainerRegistry,
    DockerBuildContext,
    Environment,
    RSection,
    SparkPackage,
)
from fninfer.core.runconfig import DockerConfiguration, PyTorchConfiguration, RunConfiguration
from fninfer.exceptions import UserErrorException

SAVED_BY_AZUREML = Path(__file__).resolve().parents[1] / "fixtures" / "azureml_environment" / "saved"


def _key_shape(document: object) -> object:
    """The keys at every level of a JSON document (values left out)."""
    if isinstance(document, dict):
        return {key: _key_shape(value) for key, value in document.items() if not isinstance(value, list)}
    return None


def test_a_folder_saved_by_azureml_loads() -> None:
    env = Environment.load_from_directory(SAVED_BY_AZUREML)
    assert env.name == "saved-by-azureml" and env.environment_variables == {"MODE": "test"}
    assert "scikit-learn==1.5.2" in env.python.conda_dependencies.pip_packages
    assert "numpy" in env.python.conda_dependencies.conda_packages
    assert env.spark.repositories == ["https://repo.example/maven"]
    assert [(p.group, p.artifact, p.version) for p in env.spark.packages] == [
        ("com.microsoft.ml.spark", "mmlspark_2.11", "0.15")
    ]
    assert [library.package for library in env.databricks.pypi_libraries] == ["fuzzywuzzy"]
    assert env.r is not None and env.r.r_version == "4.1.0" and env.r.cran_packages[0].name == "ggplot2"
    assert env.docker.base_dockerfile.startswith("FROM python:3.11") and env.docker.base_image is None
    assert env.docker.shm_size == "4g" and env.docker.platform.os == "Linux"
    assert env.inferencing_stack_version == "latest"


def test_fninfer_saves_the_format_azureml_saves(tmp_path: Path) -> None:
    env = Environment.load_from_directory(SAVED_BY_AZUREML)
    env.save_to_directory(tmp_path / "again")
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == sorted(p.name for p in SAVED_BY_AZUREML.iterdir())
    ours = json.loads((tmp_path / "again" / "azureml_environment.json").read_text())
    theirs = json.loads((SAVED_BY_AZUREML / "azureml_environment.json").read_text())
    assert _key_shape(ours) == _key_shape(theirs)
    assert ours["spark"] == theirs["spark"] and ours["r"] == theirs["r"]
    twin = Environment.load_from_directory(tmp_path / "again")
    assert twin._serialize_to_dict() == env._serialize_to_dict()
    with pytest.raises(FileExistsError):
        env.save_to_directory(tmp_path / "again")
    env.save_to_directory(tmp_path / "again", overwrite=True)


def test_docker_settings_exclude_each_other_as_in_azureml(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM ubuntu:22.04\n")
    env = Environment.from_dockerfile("df", str(dockerfile))
    assert env.docker.base_dockerfile == "FROM ubuntu:22.04\n" and env.docker.base_image is None
    assert env.python.user_managed_dependencies is True  # no Python dependencies given
    registry = ContainerRegistry()
    registry.address = "myacr.azurecr.io"
    env = Environment.from_docker_image("img", "myacr.azurecr.io/base:1", container_registry=registry)
    assert env.docker.base_image == "myacr.azurecr.io/base:1" and env.docker.base_dockerfile is None
    env.docker.build_context = DockerBuildContext.from_local_directory(None, str(tmp_path))
    assert env.docker.base_image is None and env.docker.build_context.location == str(tmp_path)
    env.spark.packages.append(SparkPackage("g", "a", "1"))
    env.r = RSection()
    clone = env.clone("twin")
    assert (clone.name, clone.version, clone.spark.packages, clone.r) == ("twin", None, env.spark.packages, env.r)
    with pytest.raises(UserErrorException, match="Only one of"):
        Environment.from_docker_image("x", "img", conda_specification="a.yml", pip_requirements="r.txt")


def test_pip_requirements_and_conda_helpers(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--extra-index-url https://pkgs.example/simple\npandas>=2  # data\n\nscikit-learn\n")
    env = Environment.from_pip_requirements("req", requirements)
    deps = env.python.conda_dependencies
    assert deps.pip_packages == ["pandas>=2", "scikit-learn"] and "pip" in deps.conda_packages
    assert deps.pip_options == ["--extra-index-url https://pkgs.example/simple"]
    deps.remove_pip_option("--extra-index-url")
    deps.set_pip_index_url("--index-url https://mirror.example/simple")
    assert deps.pip_options == ["--index-url https://mirror.example/simple"]
    with pytest.raises(UserErrorException, match="Invalid pip option"):
        deps.remove_pip_option("pandas")
    deps.add_tensorflow_pip_package(core_type="gpu", version="2.12.0")
    deps.add_tensorflow_pip_package()
    assert [p for p in deps.pip_packages if p.startswith("tensorflow")] == ["tensorflow==2.2.0"]
    with pytest.raises(UserErrorException, match="core type"):
        deps.add_cntk_package("tpu")
    assert CondaDependencies.merge_requirements(["a>1", "b", "a<3"]) == ["a>1,<3", "b"]
    document = deps.as_dict()
    assert document["dependencies"][-1] == {"pip": [*deps.pip_options, *deps.pip_packages]}
    assert list(deps.conda_channels) == deps.channels
    assert CondaDependencies().get_default_number_of_packages() == (1, 1)
    assert CondaDependencies(_underlying_structure=document) == deps


def test_an_existing_conda_environment_needs_conda(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert Environment.from_existing_conda_environment("x", "base") is None
    assert "Conda" in capsys.readouterr().out


SAVED_RUNCONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "azureml_runconfig"


def test_a_run_configuration_saved_by_azureml_loads() -> None:
    """tests/fixtures/azureml_runconfig/.azureml/train: what azureml-core's RunConfiguration.save wrote."""
    config = RunConfiguration.load(SAVED_RUNCONFIG, "train")
    assert (config.script, config.arguments, config.target) == ("train.py", ["--a", 1], "cpu-cluster")
    assert config.environment_variables["X"] == "1"
    assert config.environment.python.conda_dependencies.pip_packages == ["azureml-defaults"]
    assert (config.docker.shm_size, config.pytorch.communication_backend, config.mpi.node_count) == ("2g", "nccl", 1)
    assert config.history.directories_to_watch == ["logs"]


def test_a_run_configuration_round_trips(tmp_path: Path) -> None:
    config = RunConfiguration(script="score.py", arguments=["--rows", 10])
    config.target = "gpu-cluster"
    config.docker = DockerConfiguration(use_docker=True, arguments=["--ipc=host"])
    config.pytorch = PyTorchConfiguration(process_count=4, node_count=2)
    config.environment.python.conda_dependencies.add_pip_package("torch==2.3.0")
    config.environment_variables = {"EPOCHS": "3"}
    config.max_run_duration_seconds = 600
    config.save(tmp_path, "train")
    assert sorted(p.name for p in (tmp_path / ".azureml").iterdir()) == ["conda_dependencies.yml", "train"]
    back = RunConfiguration.load(tmp_path, "train")
    assert (back.script, back.arguments, back.target, back.max_run_duration_seconds) == (
        "score.py",
        ["--rows", 10],
        "gpu-cluster",
        600,
    )
    assert back.docker == config.docker and back.pytorch == config.pytorch
    assert "torch==2.3.0" in back.environment.python.conda_dependencies.pip_packages
    assert back.environment_variables == {"EPOCHS": "3"}
    config.save(tmp_path / "single.runconfig")
    assert RunConfiguration.load(tmp_path / "single.runconfig").target == "gpu-cluster"
    RunConfiguration.delete(tmp_path, "train")
    with pytest.raises(UserErrorException, match="not found"):
        RunConfiguration.delete(tmp_path, "train")
    with pytest.raises(UserErrorException, match="needs a name"):
        RunConfiguration().save(tmp_path)
