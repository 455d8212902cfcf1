"""Azure ML's registry members on the real host: what v1 code does with models (tags and properties of any value
type, versions as strings, in-place updates, serialize/deserialize, SAS links), services and compute targets."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from fninfer.core import Dataset, Environment, Model, Webservice, Workspace
from fninfer.core.compute import AksCompute, AmlCompute, ComputeTarget
from fninfer.core.compute.aks import AksUpdateConfiguration
from fninfer.core.databricks import PyPiLibrary
from fninfer.core.environment import RGitHubPackage, RSection, SparkPackage
from fninfer.core.model import InferenceConfig
from fninfer.core.webservice import AciWebservice, AksWebservice, LocalWebservice
from fninfer.exceptions import ComputeTargetException, UserErrorException, WebserviceException
from shared.core.errors import InvalidInput

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "services"


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01weights")
    (folder / "sub" / "config.json").write_text('{"layers": 3}')
    return folder


def test_tags_and_properties_of_any_value_come_back_as_strings(ws: Workspace, model_folder: Path, unique: str) -> None:
    """Issue 21, behaviour 5: `Model.register(tags={'mse': 3021.5})` as the many-models accelerator writes it."""
    name = f"tags_{unique}"
    model = Model.register(
        ws,
        model_path=model_folder,
        model_name=name,
        tags={"mse": 3021.5, "rows": 120, "best": True, "store": "s1", "candidate": None},
        properties={"score": 0.97, "fold": 2},
    )
    expected = {"mse": "3021.5", "rows": "120", "best": "True", "store": "s1", "candidate": None}
    assert model.tags == expected and model.properties == {"score": "0.97", "fold": "2"}
    again = Model(ws, name)
    assert again.tags == expected and again.properties == {"score": "0.97", "fold": "2"}
    assert [m.id for m in Model.list(ws, name=name, tags=[["mse", "3021.5"], "candidate"])] == [model.id]
    with pytest.raises(InvalidInput, match="'tags' must be a dictionary"):
        Model.register(ws, model_path=model_folder, model_name=name, tags=["mse", 3021.5])  # type: ignore[arg-type]


def test_a_version_may_be_given_as_a_string(ws: Workspace, model_folder: Path, unique: str) -> None:
    """Issue 21, behaviour 5: `Model(ws, name, version="1")`."""
    name = f"strver_{unique}"
    first = Model.register(ws, model_path=model_folder, model_name=name)
    Model.register(ws, model_path=model_folder, model_name=name)
    assert Model(ws, name, version="1").id == first.id == f"{name}:1"
    assert Model(ws, name=name, version=" 1 ").version == 1
    assert Path(Model.get_model_path(name, version="1", _workspace=ws)).is_dir()
    with pytest.raises(WebserviceException, match="whole number"):
        Model(ws, name, version="latest")


def test_tags_properties_and_metadata_change_in_place(
    ws: Workspace, model_folder: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"upd_{unique}"
    model = Model.register(ws, model_path=model_folder, model_name=name, tags={"stage": "dev"}, properties={"a": "1"})
    model.add_tags({"stage": "prod", "mse": 12.5})
    assert "Replacing tag stage -> dev with stage -> prod" in capsys.readouterr().out
    model.remove_tags(["mse", "absent"])
    assert "Tag with key absent not found." in capsys.readouterr().out
    model.add_properties({"b": 2})
    with pytest.raises(WebserviceException, match=r"properties are immutable.*a"):
        model.add_properties({"a": "changed"})
    model.update(description="better", tags={"only": "this"})
    fresh = Model(ws, name, version=model.version)
    assert (fresh.tags, fresh.properties, fresh.description) == ({"only": "this"}, {"a": "1", "b": "2"}, "better")
    assert (model.tags, model.properties) == (fresh.tags, fresh.properties)

    # Two clients changing different tags at once both land (the app applies each change with If-Match).
    first, second = Model(ws, name), Model(ws, name)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: (first if i % 2 else second).add_tags({f"k{i}": i}), range(8)))
    assert {f"k{i}": str(i) for i in range(8)}.items() <= Model(ws, name).tags.items()


def test_dataset_references_serialize_and_deserialize(
    ws: Workspace, model_folder: Path, tmp_path: Path, unique: str
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    ws.get_default_datastore().upload_files([str(data)], target_path=f"members-{unique}", overwrite=True)
    dataset = Dataset.Tabular.from_delimited_files((ws.get_default_datastore(), f"members-{unique}/rows.csv"))
    dataset = dataset.register(ws, f"members-{unique}")
    model = Model.register(ws, model_path=model_folder, model_name=f"ser_{unique}")
    assert model.datasets == {} and model.sample_input_dataset is None and model.run is None
    model.add_dataset_references([("training", dataset)])
    model.update(sample_input_dataset=dataset)
    fresh = Model(ws, model.name)
    assert [d.id for d in fresh.datasets["training"]] == [dataset.id]
    assert fresh.sample_input_dataset.id == dataset.id

    payload = fresh.serialize()
    assert payload["id"] == fresh.id and payload["datasets"] == [{"name": "training", "id": dataset.id}]
    assert payload["sampleInputDatasetId"] == dataset.id and payload["mimeType"] == "application/octet-stream"
    twin = Model.deserialize(ws, payload)
    assert (twin.id, twin.tags, twin.sha256) == (fresh.id, fresh.tags, fresh.sha256)


def test_sas_urls_read_each_file(ws: Workspace, model_folder: Path, unique: str) -> None:
    model = Model.register(ws, model_path=model_folder, model_name=f"sas_{unique}")
    urls = model.get_sas_urls()
    assert sorted(urls) == ["sub/config.json", "weights.bin"]
    assert httpx.get(urls["weights.bin"]).content == b"\x00\x01weights"
    assert httpx.get(urls["sub/config.json"]).json() == {"layers": 3}
    assert model.url.startswith("http") and f"/sas_{unique}/" in model.url


def test_print_configuration(
    capsys: pytest.CaptureFixture[str], ws: Workspace, model_folder: Path, unique: str
) -> None:
    model = Model.register(ws, model_path=model_folder, model_name=f"cfg_{unique}")
    Model.print_configuration([model], None, None, None)
    assert f"Models: ['{model.id}']" in capsys.readouterr().out


def _source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "flaky.py", folder / "score.py")
    return folder


def test_service_tags_settings_and_members(
    ws: Workspace, model_folder: Path, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Model.register(ws, model_path=model_folder, model_name=f"svc_{unique}")
    inference = InferenceConfig(entry_script="score.py", source_directory=_source(tmp_path))
    config = AksWebservice.deploy_configuration(
        tags={"mse": 3021.5, "team": "ml"},
        properties={"rows": 12},
        num_replicas=3,
        cpu_cores=0.5,
        scoring_timeout_ms=30000,
        namespace="scoring",
        token_auth_enabled=True,
        auth_enabled=False,
    )
    name = f"aks-{unique}"
    Webservice.check_for_existing_webservice(ws, name)  # nothing by that name yet
    service = Model.deploy(ws, name, [model], inference, config)
    with pytest.raises(WebserviceException, match="already exists"):
        Webservice.check_for_existing_webservice(ws, name)
    Webservice.check_for_existing_webservice(ws, name, overwrite=True)
    service.wait_for_deployment(timeout_sec=90)
    assert isinstance(service, AksWebservice)
    assert service.tags == {"mse": "3021.5", "team": "ml"} and service.properties == {"rows": "12"}
    assert [m.id for m in service.models] == [model.id] and service.environment is None
    assert (service.num_replicas, service.scoring_timeout_ms, service.namespace) == (3, 30000, "scoring")
    assert service.autoscaler.autoscale_enabled is False  # num_replicas given: Azure ML's default
    assert service.container_resource_requirements.cpu == 0.5
    assert service.max_concurrent_requests_per_container == 1 and service.image is None

    token = service.get_access_token()
    assert token.token_type == "Bearer" and token.expiry_on is not None and token.refresh_after < token.expiry_on
    assert service.run(json.dumps({"data": 1})) is not None

    service.add_tags({"team": "data", "epoch": 3})
    assert "Replacing tag team -> ml with team -> data" in capsys.readouterr().out
    service.remove_tags("mse")
    service.add_properties({"source": "test"})
    fresh = Webservice(ws, name)
    assert fresh.tags == {"team": "data", "epoch": "3"}
    assert fresh.properties == {"rows": "12", "source": "test"}
    service.update(tags={"only": 1})
    assert Webservice(ws, name).tags == {"only": "1"}

    payload = fresh.serialize()
    assert payload["computeType"] == "AKS" and payload["numReplicas"] == 3 and payload["tags"] == fresh.tags
    assert AksWebservice.deserialize(ws, payload).name == name
    with pytest.raises(WebserviceException, match="computeType is not ACI"):
        AciWebservice.deserialize(ws, payload)
    with pytest.raises(WebserviceException, match="no container images"):
        Webservice.deploy_from_image(ws, f"img-{unique}", image=None)
    service.delete()


def test_image_era_deployment_runs_as_model_deploy(
    ws: Workspace, model_folder: Path, tmp_path: Path, unique: str
) -> None:
    """`Webservice.deploy_from_model(ws, name, models, image_config)`: the image configuration's entry script and
    conda file become the inference config."""
    source = _source(tmp_path)

    class ImageConfig:  # the attributes ContainerImage.image_configuration(...) sets
        execution_script = str(source / "score.py")
        runtime = "python"
        conda_file = None

    model = Model.register(ws, model_path=model_folder, model_name=f"img_{unique}")
    with pytest.warns(DeprecationWarning):
        service = Webservice.deploy_from_model(ws, f"img-{unique}", [model], ImageConfig())
    service.wait_for_deployment(timeout_sec=90)
    assert isinstance(service, AciWebservice) and service.state == "Healthy"
    assert service.ssl_enabled is False and service.public_fqdn == "127.0.0.1"
    assert service.container_resource_requirements.cpu == 0.1  # Azure ML's default
    local = Webservice.deploy_local_from_model(ws, f"loc-{unique}", [model], ImageConfig(), wait=True)
    assert local.state == LocalWebservice.STATE_RUNNING
    for each in (service, local):
        each.delete()


def test_environment_sections_register_and_come_back(
    ws: Workspace, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 21, behaviour 12: Environment.spark and the other sections, recorded with the environment."""
    env = Environment(f"sections-{unique}")
    env.spark.packages = [SparkPackage("com.microsoft.ml.spark", "mmlspark_2.11", "0.15")]
    env.databricks.pypi_libraries = [PyPiLibrary(package="fuzzywuzzy")]
    env.r = RSection()
    env.r.r_version = "4.1.0"
    github = RGitHubPackage()
    github.repository, github.auth_token = "user/repo", "secret-token"
    env.r.github_packages = [github]
    env.docker.base_image = "myacr.azurecr.io/base:1"
    env.docker.base_image_registry.address = "myacr.azurecr.io"
    env.docker.base_image_registry.password = "registry-password"
    env.docker.shm_size = "4g"
    env.environment_variables = {"WORKERS": 4}
    registered = env.register(ws)
    back = Environment.get(ws, env.name, version=registered.version)
    assert [(p.group, p.artifact) for p in back.spark.packages] == [("com.microsoft.ml.spark", "mmlspark_2.11")]
    assert [library.package for library in back.databricks.pypi_libraries] == ["fuzzywuzzy"]
    assert back.r is not None and back.r.r_version == "4.1.0" and back.r.github_packages[0].repository == "user/repo"
    assert back.docker.base_image == "myacr.azurecr.io/base:1" and back.docker.shm_size == "4g"
    assert back.docker.base_image_registry.address == "myacr.azurecr.io" and back.environment_variables == {
        "WORKERS": "4"
    }
    stored = json.dumps(ws.client.request("GET", f"environments/{env.name}"))
    assert "secret-token" not in stored and "registry-password" not in stored  # secrets are not registered

    assert env.build(ws).wait_for_completion(show_output=False).status == "Succeeded"
    details = back.get_image_details(ws)
    assert details.image_exist is False and details.interpreter_path
    back.build_local(ws)
    assert f"Environment {env.name}:{registered.version}" in capsys.readouterr().out
    with pytest.raises(UserErrorException, match="is not registered"):
        Environment(f"never-{unique}").build_local(ws)
    with pytest.raises(UserErrorException, match="labels are not supported"):
        Environment.label(ws, env.name, registered.version, ["prod"])

    wheel = tmp_path / f"private_{unique}-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK wheel bytes")
    url = Environment.add_private_pip_wheel(ws, wheel)
    assert url.endswith(f"azureml-private-packages/{wheel.name}")
    with pytest.raises(UserErrorException, match="already exists"):
        Environment.add_private_pip_wheel(ws, wheel)
    assert Environment.add_private_pip_wheel(ws, wheel, exist_ok=True) == url


def test_aml_compute_members(ws: Workspace, unique: str, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"cpu-{unique}"
    config = AmlCompute.provisioning_configuration(
        vm_size="STANDARD_D2_V2",
        max_nodes=4,
        tags={"cost-center": 42},
        description="training",
        identity_type="UserAssigned",
        identity_id=["/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a"],
        admin_username="azureuser",
        admin_user_password="never-kept",
    )
    target = ComputeTarget.create(ws, name, config)
    assert isinstance(target, AmlCompute) and target.provisioning_errors is None
    assert target.tags == {"cost-center": "42"} and target.description == "training"
    assert target.identity_type == "UserAssigned" and len(target.identity_id) == 1
    assert target.admin_username == "azureuser" and target.admin_user_password is None
    assert "never-kept" not in json.dumps(ws.client.request("GET", f"computetargets/{name}"))

    target.update(max_nodes=2, idle_seconds_before_scaledown=600)
    fresh = ComputeTarget(ws, name)
    assert (fresh.scale_settings.minimum_node_count, fresh.scale_settings.maximum_node_count) == (0, 2)
    assert fresh.scale_settings.idle_seconds_before_scaledown == 600
    assert fresh.get_status().scale_settings.maximum_node_count == 2
    with pytest.raises(ComputeTargetException, match="min_nodes <= max_nodes"):
        fresh.update(min_nodes=3)
    target.remove_identity()
    target.add_identity("SystemAssigned")
    assert ComputeTarget(ws, name).identity_type == "SystemAssigned"
    with pytest.raises(ComputeTargetException, match="required for a UserAssigned"):
        target.add_identity("UserAssigned")
    with pytest.raises(ComputeTargetException, match="Detach is not supported"):
        target.detach()

    assert target.list_nodes() == [] and AmlCompute.supported_vmsizes(ws) == []
    assert list(target.get_active_runs()) == []
    payload = target.serialize()
    assert payload["properties"]["properties"]["scaleSettings"]["maxNodeCount"] == 2
    assert type(ComputeTarget.deserialize(ws, payload)) is AmlCompute
    target.delete()
    assert name not in ws.compute_targets


def test_aks_compute_members(ws: Workspace, unique: str) -> None:
    """Issue 21, behaviour 12: AksCompute.provisioning_errors, and the rest of AksCompute."""
    created = ComputeTarget.create(
        ws, f"aks-{unique}", AksCompute.provisioning_configuration(agent_count=2, cluster_purpose="DevTest")
    )
    assert created.provisioning_errors is None and created.get_status() == "Succeeded"
    assert (created.agent_count, created.cluster_purpose, created.load_balancer_type) == (2, "DevTest", "PublicIp")
    created.update(AksUpdateConfiguration(load_balancer_type="InternalLoadBalancer", load_balancer_subnet="snet"))
    created.refresh_state()
    assert (created.load_balancer_type, created.load_balancer_subnet) == ("InternalLoadBalancer", "snet")
    with pytest.raises(ComputeTargetException, match="no Kubernetes cluster"):
        created.get_credentials()
    with pytest.raises(ComputeTargetException, match="created, not attached"):
        created.detach()

    attached = ComputeTarget.attach(
        ws, f"att-{unique}", AksCompute.attach_configuration(resource_group="rg", cluster_name="cluster")
    )
    assert isinstance(attached, AksCompute) and attached.is_attached
    attached.detach()
    assert f"att-{unique}" not in ws.compute_targets
    created.delete()
