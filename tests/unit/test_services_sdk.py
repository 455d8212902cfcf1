"""The SDK's deployment-side configuration: conda files, environments, inference and deployment configs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fninfer.core import Environment
from fninfer.core.conda_dependencies import CondaDependencies
from fninfer.core.model import InferenceConfig
from fninfer.core.webservice import AciWebservice, AksWebservice, LocalWebservice
from shared.core.errors import InvalidInput


def test_a_conda_file_round_trips_through_serialize_to_string(tmp_path: Path) -> None:
    dependencies = CondaDependencies.create(
        pip_packages=["joblib==1.4.2"], conda_packages=["scikit-learn", "numpy=1.26"], python_version="3.11"
    )
    dependencies.add_conda_package("scikit-learn")  # once only, as in Azure ML
    text = dependencies.serialize_to_string()
    assert "- scikit-learn\n" in text and "  - joblib==1.4.2\n" in text and "- python=3.11\n" in text
    path = tmp_path / "env.yml"
    path.write_text(text)
    parsed = CondaDependencies(path)
    assert parsed.conda_packages == ["python=3.11", "scikit-learn", "numpy=1.26"]
    assert parsed.pip_packages == ["azureml-defaults", "joblib==1.4.2"]
    assert parsed.serialize_to_string() == text


def test_the_default_environment_is_python_and_azureml_defaults() -> None:
    assert CondaDependencies().requirements() == [
        "python={}.{}".format(*sys.version_info[:2]),
        "azureml-defaults",
    ]


def test_environments_carry_their_conda_dependencies(tmp_path: Path) -> None:
    (tmp_path / "env.yml").write_text(
        "name: svc\ndependencies:\n- scikit-learn\n- pip:\n  - joblib\nchannels:\n- defaults\n"
    )
    env = Environment.from_conda_specification("svc-env", tmp_path / "env.yml")
    assert env.python.conda_dependencies.requirements() == ["scikit-learn", "joblib"]
    (tmp_path / "requirements.txt").write_text("numpy>=1  # arrays\n\nscipy\n")
    pip_env = Environment.from_pip_requirements("pip-env", tmp_path / "requirements.txt")
    # As Azure ML's: the file's packages replace the pip list, and pip itself is added.
    assert pip_env.python.conda_dependencies.pip_packages == ["numpy>=1", "scipy"]
    assert "pip" in pip_env.python.conda_dependencies.conda_packages


def test_inference_config_reads_its_conda_file_from_the_source_directory(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text("def init(): pass\ndef run(raw): return raw\n")
    (tmp_path / "env.yml").write_text(CondaDependencies.create(conda_packages=["scikit-learn"]).serialize_to_string())
    config = InferenceConfig(runtime="python", source_directory=tmp_path, entry_script="score.py", conda_file="env.yml")
    assert "scikit-learn" in config.requirements()
    with pytest.raises(InvalidInput, match="not in"):
        InferenceConfig(source_directory=tmp_path, entry_script="missing.py")
    with pytest.raises(InvalidInput, match="not supported"):
        InferenceConfig(runtime="spark-py", source_directory=tmp_path, entry_script="score.py")


def test_auth_defaults_follow_azure_ml() -> None:
    assert AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1).auth == "none"
    assert AciWebservice.deploy_configuration(auth_enabled=True).auth == "key"
    assert AksWebservice.deploy_configuration(cpu_cores=1, memory_gb=1).auth == "key"
    assert AksWebservice.deploy_configuration(auth_enabled=False).auth == "none"
    assert AksWebservice.deploy_configuration(token_auth_enabled=True).auth == "token"
    assert LocalWebservice.deploy_configuration(port=8890).auth == "none"
    with pytest.raises(InvalidInput, match="cannot both"):
        AksWebservice.deploy_configuration(auth_enabled=True, token_auth_enabled=True)


def test_deployment_settings_are_recorded_and_unset_ones_left_out() -> None:
    spec = AksWebservice.deploy_configuration(cpu_cores=1, memory_gb=1, scoring_timeout_ms=5000).to_spec()
    assert spec == {"compute_type": "AKS", "auth": "key", "cpu_cores": 1, "memory_gb": 1, "scoring_timeout_ms": 5000}
    local = LocalWebservice.deploy_configuration(port=8890, response_encoding="json").to_spec()
    assert local == {"compute_type": "Local", "auth": "none", "port": 8890, "response_encoding": "json"}
