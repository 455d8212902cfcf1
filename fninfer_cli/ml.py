"""`fninfer ml ...`: the `az ml` commands of Azure ML's v1 CLI extension (azure-cli-ml), against fninfer's app.

A CI pipeline changes `az ml` to `fninfer ml` and nothing else: the same verbs, options (long and short forms),
files (`--ic inference_config.yml`, `--dc deployment_config.yml`, `-f` metadata files) and output (`-o json`, the
default, `-o table`, `-o tsv`, `-o yaml`, `-o none`, and `--query` JMESPath), printed by knack, the library the
Azure CLI prints with, so tables and TSV come out as `az` writes them. Objects have the shape Azure ML's
`serialize()` gives them (the CLI printed those); progress goes to stderr, errors are `ERROR: ...` with status 1.

The workspace is `--path`'s `.fninfer/config.json` (found as `Workspace.from_config()` finds it), or the one named
by `-w`/`-g`/`--subscription-id`. `fninfer ml folder attach` writes it into a folder, as `az ml folder attach`
writes `.azureml/config.json`.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import jmespath
import yaml
from knack.output import format_json, format_none, format_table, format_tsv, format_yaml
from knack.util import CommandResultItem

from fninfer._config import find_config
from fninfer._datastore import DataPath, Datastore
from fninfer._environment import Environment
from fninfer._exceptions import UserErrorException, WebserviceException
from fninfer._experiment import Experiment
from fninfer._inference_config import InferenceConfig
from fninfer._model import Model
from fninfer._published import PublishedPipeline
from fninfer._resource_configuration import ResourceConfiguration
from fninfer._run import Run
from fninfer._webservice import AciWebservice, AksWebservice, LocalWebservice, Webservice
from fninfer._workspace import Workspace
from shared.core.errors import FninferError

FORMATS = {"json": format_json, "jsonc": format_json, "table": format_table, "tsv": format_tsv, "yaml": format_yaml}
_PROJECT_FILE = "project.json"  # beside config.json: the experiment `folder attach` named


class MlError(Exception):
    """A user error, printed as `ERROR: ...` (exit status 1), as the Azure CLI prints them."""


# -- options every command takes -----------------------------------------------------------------------------


def _workspace_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--workspace-name", "-w", default=None, help="Workspace name."),
        click.option("--resource-group", "-g", default=None, help="Resource group name."),
        click.option("--subscription-id", default=None, help="Specifies the subscription Id."),
        click.option("--path", default=None, help="Path to a project folder (default: the current folder or above)."),
        click.option("-v", "verbose", is_flag=True, help="Verbosity flag."),
        click.option(
            "--output",
            "-o",
            type=click.Choice(["json", "jsonc", "table", "tsv", "yaml", "none"]),
            default="json",
            show_default=True,
            help="Output format.",
        ),
        click.option("--query", default=None, help="JMESPath query string."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def ml_command(group: click.Group, name: str, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """A leaf command: workspace and output options, errors as `ERROR: ...`, the result printed as az prints it."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        @functools.wraps(function)
        def run(**options: Any) -> None:
            output, query = options.pop("output"), options.pop("query")
            for unused in ("verbose",):
                options.pop(unused)
            context = _Context(
                options.pop("workspace_name"),
                options.pop("resource_group"),
                options.pop("subscription_id"),
                options.pop("path"),
            )
            try:
                result = function(context, **options)
            except (MlError, FninferError, UserErrorException, WebserviceException, OSError) as exc:
                message = getattr(exc, "message", None) or str(exc)
                click.echo(f"ERROR: {message}", err=True)
                sys.exit(1)
            if result is None:
                return
            if query:
                result = jmespath.search(query, result)
            if output == "none":
                text = format_none(CommandResultItem(result))
            else:
                text = FORMATS[output](CommandResultItem(result, is_query_active=bool(query)))
            click.echo(text, nl=not text.endswith("\n"))

        return group.command(name, **kwargs)(_workspace_options(run))

    return decorate


class _Context:
    def __init__(self, name: str | None, group: str | None, subscription: str | None, path: str | None) -> None:
        self.name, self.group, self.subscription, self.path = name, group, subscription, path

    @functools.cached_property
    def workspace(self) -> Workspace:
        if self.name is not None:
            return Workspace(self.subscription, self.group, self.name)
        return Workspace.from_config(self.path)

    def experiment_name(self) -> str | None:
        try:
            found = Path(find_config(self.path))
        except Exception:  # no config: no attached folder
            return None
        project = found.parent / _PROJECT_FILE
        return json.loads(project.read_text()).get("experiment_name") if project.is_file() else None


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    """`--tag key=value` options (a key alone is an empty value)."""
    found = {}
    for value in values:
        key, _, text = value.partition("=")
        if not key:
            raise MlError(f"{what} {value!r} must be key=value")
        found[key] = text
    return found


def _comma_pairs(value: str | None, what: str) -> dict[str, str]:
    """`--parameters a=1,b=2`: comma-separated name=value pairs, as the v1 CLI parses them."""
    if not value:
        return {}
    found = {}
    for item in value.split(","):
        key, equals, text = item.partition("=")
        if not equals or not key.strip():
            raise MlError(f"{what} {item!r} must be name=value")
        found[key.strip()] = text.strip()
    return found


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise MlError(f"{value!r} is not a boolean (true or false)")


def _read_document(path: str) -> dict[str, Any]:
    text = Path(path).read_text()
    try:
        document = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise MlError(f"{path} is not valid {'JSON' if path.endswith('.json') else 'YAML'}: {exc}") from None
    if not isinstance(document, dict):
        raise MlError(f"{path} must hold an object")
    return document


# -- shapes as Azure ML's serialize() gives them ---------------------------------------------------------------


def model_dict(model: Model) -> dict[str, Any]:
    """`azureml.core.Model.serialize()`'s keys, from fninfer's record."""
    datasets = [{"name": scenario, "id": ds} for scenario, items in model.datasets.items() for ds in items]
    configuration = model.resource_configuration
    return {
        "createdTime": model.created_time,
        "createdBy": None,
        "description": model.description,
        "id": model.id,
        "mimeType": "application/octet-stream",
        "name": model.name,
        "framework": model.model_framework or "Custom",
        "frameworkVersion": model.model_framework_version,
        "tags": model.tags,
        "properties": model.properties,
        "unpack": False,
        "url": None,
        "version": model.version,
        "experimentName": model.properties.get("azureml.experimentName"),
        "runId": model.run_id,
        "runDetails": None,
        "datasets": datasets,
        "resourceConfiguration": (
            {"cpu": configuration.cpu, "memoryInGB": configuration.memory_in_gb, "gpu": configuration.gpu}
            if configuration is not None
            else None
        ),
        "sampleInputDatasetId": model.sample_input_dataset,
        "sampleOutputDatasetId": model.sample_output_dataset,
    }


def service_dict(service: Webservice) -> dict[str, Any]:
    """`azureml.core.Webservice.serialize()`'s keys (fninfer's serialize() and the keys it has no use for)."""
    return {"imageDigest": None, "imageDetails": None, "createdBy": None, **service.serialize()}


# -- az ml ---------------------------------------------------------------------------------------------------


@click.group()
def ml() -> None:
    """Azure ML's v1 CLI (`az ml ...`, the azure-cli-ml extension) against fninfer: same verbs, options and output."""


@ml.group()
def folder() -> None:
    """Manage folders attached to a workspace."""


@ml_command(folder, "attach")
@click.option("--experiment-name", "-e", default=None, help="Experiment name.")
def folder_attach(ctx: _Context, experiment_name: str | None) -> dict[str, Any]:
    """Attach a folder to a workspace and optionally an experiment to use by default; the experiment defaults to the
    folder's name."""
    folder_path = Path(ctx.path or ".").resolve()
    if folder_path.exists() and not folder_path.is_dir():
        raise MlError(f"The provided path [{folder_path}] must be a directory")
    folder_path.mkdir(parents=True, exist_ok=True)
    workspace = ctx.workspace if ctx.name is not None else Workspace.from_config()
    experiment = experiment_name or folder_path.name
    written = Path(workspace.write_config(folder_path))
    (written.parent / _PROJECT_FILE).write_text(json.dumps({"experiment_name": experiment}) + "\n")
    return {
        "Experiment name": experiment,
        "Subscription id": workspace.subscription_id,
        "Resource group": workspace.resource_group,
        "Workspace name": workspace.name,
        "Project path": str(folder_path),
    }


@ml.group()
def model() -> None:
    """Manage machine learning models."""


@ml_command(model, "register")
@click.option("--name", "-n", required=True, help="Name of model to register.")
@click.option("--model-path", "-p", default=None, help="Full path of the model file to register.")
@click.option("--asset-path", default=None, help="The cloud path where the experiment run stores the model file.")
@click.option("--run-id", "-r", default=None, help="The ID for the experiment run where model is registered from.")
@click.option("--run-metadata-file", "-f", default=None, help="Path to a JSON file containing experiment run metadata.")
@click.option("--experiment-name", default=None, help="The name of the experiment.")
@click.option("--description", "-d", default=None, help="Description of the model.")
@click.option("--tag", multiple=True, help="Key/value tag to add (e.g. key=value). Repeat for several.")
@click.option("--property", "properties", multiple=True, help="Key/value property to add (e.g. key=value).")
@click.option("--model-framework", default=None, help="Framework of the model to register.")
@click.option("--model-framework-version", default=None, help="Framework version of the model to register.")
@click.option("--output-metadata-file", "-t", default=None, help="Path to a JSON file where model metadata is written.")
@click.option("--sample-input-dataset-id", default=None, help="The ID for the sample input dataset.")
@click.option("--sample-output-dataset-id", default=None, help="The ID for the sample output dataset.")
@click.option("--cc", "cpu_cores", type=float, default=None, help="The default number of CPU cores to allocate.")
@click.option("--gb", "memory_gb", type=float, default=None, help="The default amount of memory (in GB) to allocate.")
@click.option("--gc", "gpu_cores", type=int, default=None, help="The default number of GPUs to allocate.")
def model_register(
    ctx: _Context,
    name: str,
    model_path: str | None,
    asset_path: str | None,
    run_id: str | None,
    run_metadata_file: str | None,
    experiment_name: str | None,
    description: str | None,
    tag: tuple[str, ...],
    properties: tuple[str, ...],
    model_framework: str | None,
    model_framework_version: str | None,
    output_metadata_file: str | None,
    sample_input_dataset_id: str | None,
    sample_output_dataset_id: str | None,
    cpu_cores: float | None,
    memory_gb: float | None,
    gpu_cores: int | None,
) -> dict[str, Any]:
    """Register a model to the workspace: a local file or folder (`-p`), or a run's file (`--asset-path` with
    `-r` or `-f`)."""
    if run_metadata_file:
        metadata = _read_document(run_metadata_file)
        run_id = run_id or metadata.get("runId")
        experiment_name = experiment_name or metadata.get("experimentName")
    resources = None
    if cpu_cores is not None or memory_gb is not None or gpu_cores is not None:
        resources = ResourceConfiguration(cpu=cpu_cores, memory_in_gb=memory_gb, gpu=gpu_cores)
    common = {
        "tags": _pairs(tag, "tag"),
        "properties": _pairs(properties, "property"),
        "description": description,
        "model_framework": model_framework,
        "model_framework_version": model_framework_version,
        "sample_input_dataset": sample_input_dataset_id,
        "sample_output_dataset": sample_output_dataset_id,
        "resource_configuration": resources,
    }
    common = {key: value for key, value in common.items() if value not in (None, {})}
    click.echo(f"Registering model {name}", err=True)
    if model_path is not None:
        registered = Model.register(ctx.workspace, model_path=model_path, model_name=name, **common)
    elif asset_path is not None and run_id is not None:
        experiment = experiment_name or ctx.experiment_name()
        if experiment is None:
            raise MlError("Please specify an experiment name (--experiment-name) for the run's model")
        run = Run(Experiment(ctx.workspace, experiment), run_id)
        registered = run.register_model(model_name=name, model_path=asset_path, **common)
    else:
        raise MlError("Please specify either a model path (-p) or an asset path (--asset-path) with a run ID")
    result = model_dict(registered)
    if output_metadata_file:
        Path(output_metadata_file).write_text(
            json.dumps({"modelId": registered.id, "modelName": registered.name, "modelVersion": registered.version})
        )
    return result


@ml_command(model, "list")
@click.option("--model-name", "-n", default=None, help="An optional model name to filter the list by.")
@click.option("--tag", multiple=True, help="Key/value tag to filter by (e.g. key=value, or a key).")
@click.option("--property", "properties", multiple=True, help="Key/value property to filter by.")
@click.option("--latest", "-l", is_flag=True, help="If specified, only returns models with the latest version.")
@click.option("--run-id", default=None, help="An optional run ID to filter the list by.")
@click.option("--dataset-id", default=None, help="If specified, only show models with the specified dataset ID.")
@click.option("--skip-token", default=None, help="Skip token for getting the next page of results.")
def model_list(
    ctx: _Context,
    model_name: str | None,
    tag: tuple[str, ...],
    properties: tuple[str, ...],
    latest: bool,
    run_id: str | None,
    dataset_id: str | None,
    skip_token: str | None,
) -> list[dict[str, Any]]:
    """List models in the workspace, newest first."""
    tags = [[k, v] if v else k for k, v in _pairs(tag, "tag").items()] or None
    props = [[k, v] if v else k for k, v in _pairs(properties, "property").items()] or None
    models = Model.list(
        ctx.workspace, name=model_name, tags=tags, properties=props, run_id=run_id, latest=latest, dataset_id=dataset_id
    )
    return [model_dict(m) for m in models]


def _get_model(
    ctx: _Context, model_id: str | None, model_name: str | None, version: int | None, run_id: str | None
) -> Model:
    if model_id:
        return Model(ctx.workspace, id=model_id)
    if model_name:
        return Model(ctx.workspace, name=model_name, version=version, run_id=run_id)
    raise MlError("Please specify a model ID (-i) or a model name (-n)")


@ml_command(model, "show")
@click.option("--model-id", "-i", default=None, help="ID of model to show.")
@click.option("--model-name", "-n", default=None, help="Name of model to show.")
@click.option("--version", type=int, default=None, help="Version of the model to show (with --model-name).")
@click.option("--run-id", "-r", default=None, help="Show model with the specified run ID.")
def model_show(
    ctx: _Context, model_id: str | None, model_name: str | None, version: int | None, run_id: str | None
) -> dict[str, Any]:
    """Show a model in the workspace (by default the latest version of a name)."""
    return model_dict(_get_model(ctx, model_id, model_name, version, run_id))


@ml_command(model, "delete")
@click.option("--model-id", "-i", required=True, help="ID of model to delete.")
def model_delete(ctx: _Context, model_id: str) -> None:
    """Delete a model from the workspace."""
    Model(ctx.workspace, id=model_id).delete()
    return None


def inference_config_from(document: dict[str, Any], base: Path, workspace: Workspace) -> InferenceConfig:
    """An `--ic` file (JSON or YAML, Azure ML's inference configuration schema) as an InferenceConfig."""

    def field(*names: str) -> Any:
        return next((document[n] for n in names if document.get(n) is not None), None)

    entry = field("entryScript", "entry_script")
    if entry is None:
        raise MlError("the inference configuration file needs entryScript")
    source = field("sourceDirectory", "source_directory")
    source_dir = str((base / source).resolve()) if source else None
    conda_file = field("condaFile", "conda_file")
    environment = None
    env_doc = document.get("environment")
    if isinstance(env_doc, dict):
        name, version = env_doc.get("name"), env_doc.get("version")
        conda = (env_doc.get("python") or {}).get("condaDependencies")
        if conda:
            spec = Path(tempfile.mkdtemp(prefix="fninfer-ml-")) / "conda_dependencies.yml"
            spec.write_text(yaml.safe_dump(conda))
            environment = Environment.from_conda_specification(name or "inference-environment", str(spec))
        elif name:
            environment = Environment.get(workspace, name, version)
    elif conda_file and source_dir is None:
        conda_file = str((base / conda_file).resolve())
    return InferenceConfig(
        entry_script=entry if source_dir else str((base / entry).resolve()),
        runtime=field("runtime"),
        conda_file=conda_file,
        extra_docker_file_steps=field("extraDockerfileSteps", "extra_docker_file_steps"),
        source_directory=source_dir,
        enable_gpu=field("enableGpu", "enable_gpu"),
        description=field("description"),
        base_image=field("baseImage", "base_image"),
        base_image_registry=field("baseImageRegistry", "base_image_registry"),
        cuda_version=field("cudaVersion", "cuda_version"),
        environment=environment,
    )


def deployment_config_from(document: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """A `--dc` file (Azure ML's deployment configuration schema, read as azureml-core's
    `deploy_config_dict_to_obj` reads it) as a deployment configuration, with the command line's settings on top."""
    compute = str(document.get("computeType", "")).lower()
    resources = document.get("containerResourceRequirements") or {}
    keys = document.get("keys") or {}
    auto = document.get("autoScaler") or {}
    common = {
        "cpu_cores": resources.get("cpu"),
        "memory_gb": resources.get("memoryInGB"),
        "auth_enabled": document.get("authEnabled"),
        "token_auth_enabled": document.get("tokenAuthEnabled"),
        "scoring_timeout_ms": document.get("scoringTimeoutMs"),
        "replica_max_concurrent_requests": document.get("maxConcurrentRequestsPerContainer"),
        "max_request_wait_time": document.get("maxQueueWaitMs"),
        "primary_key": keys.get("primaryKey"),
        "secondary_key": keys.get("secondaryKey"),
        "enable_app_insights": document.get("appInsightsEnabled"),
    }
    if compute == "aci":
        factory: Callable[..., Any] = AciWebservice.deploy_configuration
        common |= {"location": document.get("location"), "dns_name_label": document.get("dnsNameLabel")}
    elif compute == "aks":
        factory = AksWebservice.deploy_configuration
        common |= {
            "autoscale_enabled": auto.get("autoscaleEnabled"),
            "autoscale_min_replicas": auto.get("minReplicas"),
            "autoscale_max_replicas": auto.get("maxReplicas"),
            "num_replicas": document.get("numReplicas"),
            "gpu_cores": document.get("gpuCores"),
            "namespace": document.get("namespace"),
            "compute_target_name": document.get("computeTargetName"),
        }
    elif compute == "local":
        factory = LocalWebservice.deploy_configuration
        common = {"port": document.get("port")}
    else:
        raise MlError(f"unknown deployment type: {document.get('computeType')!r} (aci, aks or local)")
    settings = {key: value for key, value in {**common, **overrides}.items() if value is not None}
    if compute == "local":
        settings = {k: v for k, v in settings.items() if k in ("port",)}
    return factory(**settings)


@ml_command(model, "deploy")
@click.option("--name", "-n", required=True, help="The name of the deployed service.")
@click.option("--model", "-m", "models", multiple=True, help="The ID of the model to deploy (name:version). Repeat.")
@click.option(
    "--model-metadata-file",
    "-f",
    "metadata_files",
    multiple=True,
    help="Path to a JSON file containing model registration metadata. Repeat.",
)
@click.option(
    "--inference-config-file",
    "--ic",
    "inference_file",
    default=None,
    help="Path to a JSON or YAML file containing inference configuration.",
)
@click.option(
    "--deploy-config-file",
    "--dc",
    "deploy_file",
    default=None,
    help="Path to a JSON or YAML file containing deployment configuration.",
)
@click.option("--compute-target", "--ct", default=None, help="Name of compute target (recorded only).")
@click.option("--overwrite", is_flag=True, help="Overwrite the existing service if name conflicts.")
@click.option("--no-wait", is_flag=True, help="Flag to not wait for asynchronous calls.")
@click.option("--entry-script", "--es", default=None, help="Path to the local file that contains the code to run.")
@click.option("--runtime", default=None, help="Which runtime to use for the image (python).")
@click.option("--conda-file", "--cf", default=None, help="Path to a local file containing a conda environment.")
@click.option("--source-directory", "--sd", default=None, help="Path to the folder that contains the code.")
@click.option("--environment-name", "-e", default=None, help="Name of an Azure ML environment for the deployment.")
@click.option("--environment-version", "--ev", default=None, help="Version of that environment.")
@click.option("--description", "-d", default=None, help="Description of the service deployed.")
@click.option("--tag", multiple=True, help="Key/value tag to add (e.g. key=value). Repeat for several.")
@click.option("--property", "properties", multiple=True, help="Key/value property to add (e.g. key=value).")
@click.option("--auth-enabled", "--ae", default=None, help="Whether or not to enable key auth (true or false).")
@click.option("--token-auth-enabled", default=None, help="Whether or not to enable token auth (true or false).")
@click.option("--scoring-timeout-ms", type=int, default=None, help="A timeout to enforce for scoring calls.")
@click.option(
    "--replica-max-concurrent-requests",
    type=int,
    default=None,
    help="Number of maximum concurrent requests per replica.",
)
@click.option(
    "--max-request-wait-time",
    type=int,
    default=None,
    help="Maximum time a request waits in the queue (in milliseconds) before a 503.",
)
@click.option("--cpu-cores", "--cc", type=float, default=None, help="Number of CPU cores (recorded only).")
@click.option("--memory-gb", "--gb", type=float, default=None, help="Amount of memory in GB (recorded only).")
@click.option("--num-replicas", "--nr", type=int, default=None, help="Number of replicas (recorded only).")
@click.option("--autoscale-enabled", "--as", default=None, help="Whether to enable autoscale (recorded only).")
@click.option("--enable-app-insights", "--ai", default=None, help="Whether to enable AppInsights (recorded only).")
@click.option("--primary-key", "--pk", default=None, help="A primary auth key to use for this service.")
@click.option("--secondary-key", "--sk", default=None, help="A secondary auth key to use for this service.")
def model_deploy(
    ctx: _Context,
    name: str,
    models: tuple[str, ...],
    metadata_files: tuple[str, ...],
    inference_file: str | None,
    deploy_file: str | None,
    compute_target: str | None,
    overwrite: bool,
    no_wait: bool,
    entry_script: str | None,
    runtime: str | None,
    conda_file: str | None,
    source_directory: str | None,
    environment_name: str | None,
    environment_version: str | None,
    description: str | None,
    tag: tuple[str, ...],
    properties: tuple[str, ...],
    auth_enabled: str | None,
    token_auth_enabled: str | None,
    scoring_timeout_ms: int | None,
    replica_max_concurrent_requests: int | None,
    max_request_wait_time: int | None,
    cpu_cores: float | None,
    memory_gb: float | None,
    num_replicas: int | None,
    autoscale_enabled: str | None,
    enable_app_insights: str | None,
    primary_key: str | None,
    secondary_key: str | None,
) -> dict[str, Any] | None:
    """Deploy model(s) from the workspace as a real-time service."""
    workspace = ctx.workspace
    ids = list(models) + [_read_document(f)["modelId"] for f in metadata_files]
    deployed = [Model(workspace, id=model_id) for model_id in ids]
    if inference_file:
        inference = inference_config_from(_read_document(inference_file), Path(inference_file).parent, workspace)
    elif entry_script:
        environment = Environment.get(workspace, environment_name, environment_version) if environment_name else None
        inference = InferenceConfig(
            entry_script=entry_script,
            runtime=runtime,
            conda_file=conda_file,
            source_directory=source_directory,
            environment=environment,
        )
    else:
        inference = None  # no-code deployment, as in Azure ML
    overrides = {
        "tags": _pairs(tag, "tag") or None,
        "properties": _pairs(properties, "property") or None,
        "description": description,
        "auth_enabled": _bool(auth_enabled),
        "token_auth_enabled": _bool(token_auth_enabled),
        "scoring_timeout_ms": scoring_timeout_ms,
        "replica_max_concurrent_requests": replica_max_concurrent_requests,
        "max_request_wait_time": max_request_wait_time,
        "cpu_cores": cpu_cores,
        "memory_gb": memory_gb,
        "num_replicas": num_replicas,
        "autoscale_enabled": _bool(autoscale_enabled),
        "enable_app_insights": _bool(enable_app_insights),
        "primary_key": primary_key,
        "secondary_key": secondary_key,
    }
    document = _read_document(deploy_file) if deploy_file else {"computeType": "ACI"}
    deployment = deployment_config_from(document, overrides)
    service = Model.deploy(workspace, name, deployed, inference, deployment, overwrite=overwrite)
    if no_wait:
        return None
    with _progress_to_stderr():
        service.wait_for_deployment(show_output=True)
    return service_dict(service)


class _progress_to_stderr:
    """wait_for_deployment's progress on stderr, so stdout holds the result alone (as az does)."""

    def __enter__(self) -> None:
        self.stdout, sys.stdout = sys.stdout, sys.stderr

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self.stdout


@ml.group()
def service() -> None:
    """Manage operationalized services."""


@ml_command(service, "list")
@click.option("--compute-type", default=None, help="If provided, only show services of this compute type.")
@click.option("--model-name", default=None, help="If provided, only show services that have this model name.")
@click.option("--model-id", default=None, help="If provided, only show services that have this model ID.")
@click.option("--tag", multiple=True, help="Key/value tag to filter by (e.g. key=value, or a key).")
@click.option("--property", "properties", multiple=True, help="Key/value property to filter by.")
@click.option("--image-digest", default=None, help="If provided, only show services that have this image digest.")
def service_list(
    ctx: _Context,
    compute_type: str | None,
    model_name: str | None,
    model_id: str | None,
    tag: tuple[str, ...],
    properties: tuple[str, ...],
    image_digest: str | None,
) -> list[dict[str, Any]]:
    """List services in the workspace."""
    tags = [[k, v] if v else k for k, v in _pairs(tag, "tag").items()] or None
    props = [[k, v] if v else k for k, v in _pairs(properties, "property").items()] or None
    services = Webservice.list(
        ctx.workspace,
        compute_type=compute_type,
        model_name=model_name,
        model_id=model_id,
        tags=tags,
        properties=props,
        image_digest=image_digest,
    )
    return [service_dict(s) for s in services]


@ml_command(service, "show")
@click.option("--name", "-n", required=True, help="Name of the webservice to show.")
def service_show(ctx: _Context, name: str) -> dict[str, Any]:
    """Show details for a service."""
    return service_dict(Webservice(ctx.workspace, name))


@ml_command(service, "delete")
@click.option("--name", "-n", required=True, help="Name of the webservice to delete.")
def service_delete(ctx: _Context, name: str) -> None:
    """Delete a service from the workspace."""
    Webservice(ctx.workspace, name).delete()
    return None


@ml.group()
def run() -> None:
    """Manage runs."""


@ml_command(run, "submit-pipeline")
@click.option("--pipeline-id", "-i", default=None, help="ID of a pipeline to submit (guid).")
@click.option("--pipeline-yaml", "-y", default=None, help="YAML file which defines a pipeline.")
@click.option(
    "--experiment-name",
    "-n",
    default=None,
    help="Experiment name for run submission. If unspecified, use the pipeline name.",
)
@click.option(
    "--parameters",
    "-p",
    default=None,
    help="Comma-separated list of name=value pairs for pipeline parameter assignments.",
)
@click.option(
    "--datapaths",
    "-d",
    default=None,
    help="Comma-separated list of name=datastore/path pairs for datapath parameter assignments.",
)
@click.option("--output_file", "-f", "output_file", default=None, help="File to write output in JSON format.")
def run_submit_pipeline(
    ctx: _Context,
    pipeline_id: str | None,
    pipeline_yaml: str | None,
    experiment_name: str | None,
    parameters: str | None,
    datapaths: str | None,
    output_file: str | None,
) -> dict[str, Any]:
    """Submit a pipeline for execution, from a published pipeline ID."""
    if pipeline_id is None and pipeline_yaml is None:
        raise MlError("Please specify a pipeline ID or a pipeline YAML file")
    if pipeline_id is None:
        raise MlError(
            "--pipeline-yaml is not supported by fninfer: Azure ML's YAML pipeline definitions are not read; publish "
            "the pipeline from Python (pipeline.publish(...)) and submit its ID with --pipeline-id"
        )
    workspace = ctx.workspace
    published = PublishedPipeline.get(workspace, pipeline_id)
    experiment = experiment_name or published.name
    assigned: dict[str, Any] = dict(_comma_pairs(parameters, "Parameter assignment"))
    for param, datastore_path in _comma_pairs(datapaths, "Datapath assignment").items():
        if "/" not in datastore_path:
            raise MlError(f"Datapath value {datastore_path} should have format datastore/path")
        store, path = datastore_path.split("/", 1)
        assigned[param] = DataPath(datastore=Datastore(workspace, store), path_on_datastore=path)
    pipeline_run = published.submit(workspace, experiment, pipeline_parameters=assigned)
    click.echo(f"Pipeline was submitted with run ID {pipeline_run.id}", err=True)
    result = run_dict(pipeline_run, experiment)
    if output_file is not None:
        Path(output_file).write_text(json.dumps(result, indent=4))
    return result


def run_dict(pipeline_run: Any, experiment: str) -> dict[str, Any]:
    """The run's record as the v1 CLI printed it (`run._run_dto` in snake case, less its token, plus
    `_experiment_name`)."""
    details = pipeline_run.get_details()
    return {
        "run_id": pipeline_run.id,
        "parent_run_id": None,
        "status": details.get("status"),
        "start_time_utc": details.get("startTimeUtc"),
        "end_time_utc": details.get("endTimeUtc"),
        "properties": details.get("properties", {}),
        "tags": details.get("tags", {}),
        "target": details.get("target"),
        "run_type": "azureml.PipelineRun",
        "_experiment_name": experiment,
    }
