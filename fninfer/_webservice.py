"""Real-time services from the SDK: `Model.deploy`, `Webservice` and the ACI/AKS/Local deployment configurations.

Which settings have a Functions meaning: `auth_enabled` / `token_auth_enabled` (how callers authenticate),
`primary_key` / `secondary_key` (keys you choose; the app stores them sealed, never in clear), `scoring_timeout_ms`
(504 past it), `replica_max_concurrent_requests` / `max_request_wait_time` (a service's own bound on concurrent
calls, 503 past it: see shared/services/gate.py), and fninfer's own `max_request_bytes` (413 past it),
`response_encoding` ("json", Azure ML's scoring server's body, or "json-string", the seeds' double-encoded one; None
takes the app setting FNINFER_RESPONSE_ENCODING, else "json": see shared/services/calling.py) and
`environment_check` ("warn" or "strict": see shared/registry/installed_packages.py). CPU,
memory, replicas, autoscale and ports are recorded on the service but do not change anything: Azure Functions sizes
and scales the app. Defaults follow Azure ML: ACI and Local services have no auth unless asked, AKS services use keys.

Every call raises `WebserviceException` on failure, as Azure ML's do; it is also the `NotFound` / `InvalidInput` /
... of shared/core/errors.py that the app answered (see fninfer/_exceptions.py).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt

from fninfer import _waiting
from fninfer._client import api_path, check_name
from fninfer._compute import ComputeTarget
from fninfer._environment import Environment
from fninfer._exceptions import WebserviceException, invalid, webservice_error
from fninfer._http import tls_context
from fninfer._inference_config import InferenceConfig
from fninfer._model import Model
from fninfer._service_settings import (
    DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_MAX_REQUEST_WAIT_MS,
    DEFAULT_SCORING_TIMEOUT_MS,
    AksServiceAccessToken,
    AutoScaler,
    ContainerResourceRequirements,
    DataCollection,
    EncryptionProperties,
    LivenessProbeRequirements,
    VnetConfiguration,
)
from fninfer._workspace import Workspace
from shared.core import validators
from shared.core.errors import FninferError, NotFound, error_from_body

#: Keyword arguments whose values are secrets: sent in the request's `keys`, never among the recorded settings.
KEY_SETTINGS = ("primary_key", "secondary_key")
ENVIRONMENT_CHECKS = ("warn", "strict")
#: The deployment operation's state, as Azure ML's wait_for_deployment prints it, for each service state.
OPERATION_STATES = {"Transitioning": "Running", "Healthy": "Succeeded", "Failed": "Failed", "Unhealthy": "Succeeded"}
#: With show_output, a dot per this many seconds without news (Azure ML polls and prints one every 5 s).
DOT_SECONDS = 5.0


class DeploymentConfiguration:
    def __init__(self, compute_type: str, auth: str | None, **settings: Any) -> None:
        self.compute_type = compute_type
        self.auth = auth
        self.keys = {slot.removesuffix("_key"): settings.pop(slot) for slot in KEY_SETTINGS if settings.get(slot)}
        for slot in KEY_SETTINGS:
            settings.pop(slot, None)
        check = settings.get("environment_check")
        if check is not None and check not in ENVIRONMENT_CHECKS:
            raise invalid(f"environment_check must be one of {ENVIRONMENT_CHECKS}, not {check!r}")
        for field in ("tags", "properties"):  # any values, kept as strings, as Azure ML keeps them
            if settings.get(field) is not None:
                settings[field] = validators.string_map(settings[field], field)
        self.settings = {key: value for key, value in settings.items() if value is not None}

    def to_spec(self) -> dict[str, Any]:
        spec = {"compute_type": self.compute_type, **self.settings}
        if self.auth is not None:
            spec["auth"] = self.auth
        return spec

    def print_deploy_configuration(self) -> None:
        print(f"Deployment configuration: {self.to_spec()}", flush=True)


def _auth_mode(auth_enabled: bool | None, token_auth_enabled: bool | None, default_key: bool) -> str:
    if token_auth_enabled:
        if auth_enabled:
            raise invalid("auth_enabled and token_auth_enabled cannot both be set, as in Azure ML")
        return "token"
    return "key" if (default_key if auth_enabled is None else auth_enabled) else "none"


def _code_spec(workspace: Workspace, inference_config: InferenceConfig) -> dict[str, Any]:
    return inference_config._code_spec(workspace)


def _request(workspace: Workspace, method: str, *path: str | int, context: str | None = None, **kwargs: Any) -> Any:
    """A management call about services; failures as Azure ML raises them (WebserviceException)."""
    try:
        return workspace.client.request(method, api_path(*path), **kwargs)
    except FninferError as exc:
        if context is None and isinstance(exc, NotFound):
            context = "WebserviceNotFound"
        raise webservice_error(exc, context) from exc


def deploy(
    workspace: Workspace,
    name: str,
    models: list[Any],
    inference_config: InferenceConfig | None = None,
    deployment_config: DeploymentConfiguration | None = None,
    deployment_target: ComputeTarget | None = None,
    overwrite: bool = False,
    show_output: bool = False,
) -> Webservice:
    check_name("service", name)
    config = deployment_config or (
        AksWebservice.deploy_configuration() if _is_aks(deployment_target) else AciWebservice.deploy_configuration()
    )
    generated = None
    if inference_config is None:
        from fninfer._no_code import no_code_inference_config

        inference_config = generated = no_code_inference_config(models)
    if show_output:
        print(f"Models: {[model.id for model in models]}", flush=True)
        print(f"Entry script: {inference_config.entry_script}", flush=True)
        config.print_deploy_configuration()
    try:
        code = _code_spec(workspace, inference_config)
    finally:
        if generated is not None and generated.source_directory:
            shutil.rmtree(generated.source_directory, ignore_errors=True)
    spec = {
        **code,
        "models": [model.id for model in models],
        "deployment": config.to_spec(),
        "keys": config.keys,
        "compute_target": deployment_target.name if deployment_target is not None else None,
        "overwrite": overwrite,
    }
    record = _request(workspace, "POST", "services", name, json=spec, context="WebserviceException")
    service = _service_class(record)._from_record(workspace, record)
    service._inference_config = None if generated is not None else inference_config
    if show_output:
        print("Request submitted, please run wait_for_deployment(show_output=True) to get deployment status.")
    return service


def _is_aks(target: ComputeTarget | None) -> bool:
    return target is not None and type(target).__name__ == "AksCompute"


def _service_class(record: dict[str, Any]) -> type[Webservice]:
    kind = record["deployment"].get("compute_type", "ACI")
    return {"ACI": AciWebservice, "AKS": AksWebservice, "Local": LocalWebservice}.get(kind, Webservice)


def _matches_pairs(values: dict[str, str], wanted: list[Any] | None) -> bool:
    """Azure ML's `tags` / `properties` filter: keys that must be present, or [key, value] pairs that must match."""
    for item in wanted or []:
        if isinstance(item, str):
            if item not in values:
                return False
        elif isinstance(item, list | tuple) and len(item) == 2:
            if values.get(item[0]) != item[1]:
                return False
        else:
            raise invalid(f"a tags/properties filter is a key or a [key, value] pair, not {item!r}")
    return True


def _request_body(input_data: str | bytes | None, input: str | bytes | None) -> str | bytes:
    if (input_data is None) == (input is None):
        raise invalid("run() takes the request as input_data (or input), once")
    return input_data if input_data is not None else input  # type: ignore[return-value]


#: A lazily read attribute not read yet (None is a value it can have).
_UNREAD = object()


def _refuse_local(deployment_config: DeploymentConfiguration | None) -> None:
    if deployment_config is not None and deployment_config.compute_type == "Local":
        raise WebserviceException(
            "This method does not support local deployment configuration. Please use deploy_local_from_model for "
            "local deployment."
        )


def _inference_config_of(image_config: Any) -> InferenceConfig:
    """An image configuration of Azure ML's image era (`ContainerImage.image_configuration(execution_script=...,
    runtime=..., conda_file=...)`) as the InferenceConfig it amounts to; an InferenceConfig as it is."""
    if isinstance(image_config, InferenceConfig):
        return image_config
    entry_script = getattr(image_config, "execution_script", None)
    if not entry_script:
        raise invalid(
            "image_config must be an InferenceConfig or an image configuration with an execution_script, not "
            f"{type(image_config).__name__}",
            field="image_config",
        )
    return InferenceConfig(
        entry_script=entry_script,
        runtime=getattr(image_config, "runtime", None),
        conda_file=getattr(image_config, "conda_file", None),
        source_directory=getattr(image_config, "source_directory", None),
        description=getattr(image_config, "description", None),
    )


class Webservice:
    """Mirrors `azureml.core.webservice.Webservice`: `Webservice(ws, name)` finds a deployed service."""

    _inference_config: InferenceConfig | None = None  # the code it was deployed with in this process (reload)
    _credential: dict[str, str] | None = None  # the Authorization header run() sends

    def __new__(cls, workspace: Workspace | None = None, name: str | None = None) -> Webservice:
        """`Webservice(ws, name)` is an AciWebservice, AksWebservice or LocalWebservice, by the service's compute
        type, as in Azure ML; `AksWebservice(ws, name)` of another type is not found."""
        if workspace is None or not name:
            raise invalid("a service is found by workspace and name: Webservice(ws, 'name')")
        record = _request(workspace, "GET", "services", name)
        kind = _service_class(record)
        if cls is not Webservice and cls is not kind:
            raise WebserviceException(
                f"WebserviceNotFound: service {name!r} is a {kind.__name__}, not an {cls.__name__}", status_code=404
            )
        service = super().__new__(kind)
        service._load(workspace, record)
        service._inference_config = None
        return service

    def __init__(self, workspace: Workspace | None = None, name: str | None = None) -> None:
        pass  # __new__ found and loaded the service

    @classmethod
    def _from_record(cls, workspace: Workspace, record: dict[str, Any]) -> Webservice:
        service = object.__new__(cls)
        service._load(workspace, record)
        service._inference_config = None
        return service

    def _load(self, workspace: Workspace, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self._record = record
        deployment = record["deployment"]
        self.name: str = record["name"]
        self.state: str = record["state"]
        self.error: str | None = record.get("error")
        self.compute_type: str = deployment.get("compute_type", "ACI")
        self.auth_enabled = record["auth_mode"] == "key"
        self.token_auth_enabled = record["auth_mode"] == "token"
        self._model_ids: list[str] = list(record["models"])
        self._models: list[Model] | None = None
        self.tags: dict[str, str | None] = dict(deployment.get("tags") or {})
        self.properties: dict[str, str | None] = dict(deployment.get("properties") or {})
        self.description: str | None = deployment.get("description")
        self._environment_name: str | None = record.get("environment_name")
        self._environment: Any = _UNREAD
        # No container image: the Function App serves the code.
        self.image_id: str | None = None
        self.image: Any = None
        self.image_digest: str | None = None
        # Who deployed a service is not recorded: the app sees an admin key or a token, not a user.
        self.created_by: dict[str, str] | None = record.get("created_by")
        self.scoring_uri = f"{workspace.config.api_url}/{record['scoring_path']}"
        self.swagger_uri = f"{workspace.config.api_url}/services/{self.name}/swagger.json"
        self.created_time: str = record["created_time"]
        self.updated_time: str | None = record.get("updated_time")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace!r}, name={self.name!r}, state={self.state!r})"

    @property
    def models(self) -> list[Model]:
        """The models deployed with the service, as Model objects (read on first use), as in Azure ML."""
        if self._models is None:
            self._models = [Model(self.workspace, id=model_id) for model_id in self._model_ids]
        return self._models

    @models.setter
    def models(self, value: list[Model]) -> None:
        self._models = list(value)
        self._model_ids = [model.id for model in self._models]

    @property
    def environment(self) -> Environment | None:
        """The registered environment the service was deployed with (read on first use); None when it was
        deployed without one, or with one that was never registered."""
        if self._environment is _UNREAD:
            self._environment = None
            if self._environment_name:
                with contextlib.suppress(FninferError):
                    self._environment = Environment.get(self.workspace, self._environment_name)
        return self._environment  # type: ignore[no-any-return]

    def serialize(self) -> dict[str, Any]:
        """The service as Azure ML's `serialize()` describes one (plus `swaggerUri` and the model ids)."""
        return {
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "properties": self.properties,
            "state": self.state,
            "createdTime": self.created_time,
            "updatedTime": self.updated_time,
            "error": self.error,
            "computeType": self.compute_type,
            "workspaceName": self.workspace.name,
            "imageId": self.image_id,
            "imageDigest": self.image_digest,
            "imageDetails": None,
            "scoringUri": self.scoring_uri,
            "swaggerUri": self.swagger_uri,
            "createdBy": self.created_by,
            "models": list(self._model_ids),
        }

    @classmethod
    def deserialize(cls, workspace: Workspace, webservice_payload: dict[str, Any]) -> Webservice:
        """The service a `serialize()` payload describes, read from `workspace`: as in Azure ML, the payload needs
        a computeType (the class's own, for a subclass), and the service must be in that workspace."""
        kind = webservice_payload.get("computeType")
        if kind is None:
            raise WebserviceException(f"Invalid payload for webservice, missing computeType:\n{webservice_payload}")
        wanted = _COMPUTE_TYPES.get(cls)
        if wanted is not None and kind != wanted:
            raise WebserviceException(
                f"Invalid payload for {wanted} webservice, computeType is not {wanted}:\n{webservice_payload}"
            )
        return Webservice(workspace, webservice_payload.get("name"))

    @staticmethod
    def check_for_existing_webservice(
        workspace: Workspace,
        name: str,
        overwrite: bool = False,
        request_func: Any = None,
        check_func: Any = None,
    ) -> None:
        """Raise WebserviceException when a service called `name` exists (unless `overwrite`), as Azure ML checks
        before deploying. `request_func()` fetches what to check and `check_func(content)` returns an error message
        or None, as in Azure ML; by default they look the name up in the app."""
        if overwrite:
            return
        if request_func is None:

            def request_func() -> Any:
                try:
                    return _request(workspace, "GET", "services", check_name("service", name))
                except NotFound:
                    return None

        if check_func is None:

            def check_func(content: Any) -> str | None:
                return (
                    f"Service {name} with the same name already exists, please use a different service name, "
                    "or pass overwrite=True to replace it"
                    if content
                    else None
                )

        content = request_func()
        if not content:
            return
        error = check_func(content)
        if error:
            raise WebserviceException(error)

    @staticmethod
    def deploy(
        workspace: Workspace,
        name: str,
        model_paths: list[str],
        image_config: Any,
        deployment_config: DeploymentConfiguration | None = None,
        deployment_target: ComputeTarget | None = None,
        overwrite: bool = False,
    ) -> Webservice:
        """Azure ML's image-era deployment: register each path as a model (named after the file or folder), then
        `deploy_from_model`."""
        check_name("service", name)
        _refuse_local(deployment_config)
        models = [Model.register(workspace, path, Path(str(path).rstrip("/\\")).name[:30]) for path in model_paths]
        return Webservice.deploy_from_model(
            workspace, name, models, image_config, deployment_config, deployment_target, overwrite
        )

    @staticmethod
    def deploy_from_model(
        workspace: Workspace,
        name: str,
        models: list[Model],
        image_config: Any,
        deployment_config: DeploymentConfiguration | None = None,
        deployment_target: ComputeTarget | None = None,
        overwrite: bool = False,
    ) -> Webservice:
        """Azure ML's deprecated image-era deployment, as `Model.deploy` with the image configuration's entry script
        and conda file (there is no image to build: the Function App serves the code)."""
        warnings.warn(
            "deploy_from_model has been deprecated: use Model.deploy with an InferenceConfig",
            DeprecationWarning,
            stacklevel=2,
        )
        _refuse_local(deployment_config)
        return deploy(
            workspace, name, models, _inference_config_of(image_config), deployment_config, deployment_target, overwrite
        )

    @staticmethod
    def deploy_from_image(
        workspace: Workspace,
        name: str,
        image: Any,
        deployment_config: DeploymentConfiguration | None = None,
        deployment_target: ComputeTarget | None = None,
        overwrite: bool = False,
    ) -> Webservice:
        """Refused: Azure ML's container images (azureml.core.image, retired there too) do not exist on fninfer,
        whose services run their code on the Function App."""
        raise WebserviceException(
            "deploy_from_image: fninfer builds no container images (Azure ML retired them too); deploy the models "
            "with Model.deploy(workspace, name, models, inference_config, deployment_config)"
        )

    @staticmethod
    def deploy_local_from_model(
        workspace: Workspace,
        name: str,
        models: list[Model],
        image_config: Any,
        deployment_config: DeploymentConfiguration | None = None,
        wait: bool = False,
    ) -> Webservice:
        """A LocalWebservice from the image configuration's entry script (no Docker: the local host serves it)."""
        check_name("service", name)
        config = deployment_config or LocalWebservice.deploy_configuration()
        if config.compute_type != "Local":
            raise invalid("deploy_local_from_model takes a LocalWebservice.deploy_configuration()")
        service = deploy(workspace, name, models, _inference_config_of(image_config), config, overwrite=True)
        if wait:
            service.wait_for_deployment()
        return service

    def _change_tags(self, change: dict[str, Any]) -> None:
        self._load(self.workspace, _request(self.workspace, "PATCH", "services", self.name, json=change))

    def add_tags(self, tags: dict[str, Any]) -> None:
        """Add (or replace) tags; values that are not strings are kept as strings, as in Azure ML."""
        added = validators.string_map(tags, "tags")
        for key, value in added.items():
            if key in self.tags:
                print(f"Replacing tag {key} -> {self.tags[key]} with {key} -> {value}")
        self._change_tags({"add_tags": added})
        print("Webservice tag add operation complete.")

    def remove_tags(self, tags: list[str] | str) -> None:
        removed = validators.key_list(tags, "tags")
        for key in removed:
            if key not in self.tags:
                print(f"Tag with key {key} not found.")
        self._change_tags({"remove_tags": removed})
        print("Webservice tag remove operation complete.")

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add (or replace) properties, as Azure ML's services allow."""
        added = validators.string_map(properties, "properties")
        for key, value in added.items():
            if key in self.properties:
                print(f"Replacing tag {key} -> {self.properties[key]} with {key} -> {value}")
        self._change_tags({"add_properties": added})
        print("Webservice property add operation complete.")

    def update_deployment_state(self) -> None:
        self._load(self.workspace, _request(self.workspace, "GET", "services", self.name))

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait until the deployment ends: Healthy, or Failed (WebserviceException with the reason), as Azure ML's
        does, printing the operation's state with show_output; past `timeout_sec`, WebserviceException. Returns
        within a moment of the end: the app answers a waiting request as soon as the service's record changes."""
        self._await_deployment(show_output, timeout_sec)
        operation = OPERATION_STATES.get(self.state, self.state)
        print(f'{self.compute_type} service creation operation finished, operation "{operation}"', flush=True)

    def _await_deployment(self, show_output: bool, timeout_sec: float | None) -> None:
        if show_output:
            print(
                "Tips: You can try get_logs(): https://aka.ms/debugimage#dockerlog or local deployment: "
                "https://aka.ms/debugimage#debug-locally to debug if deployment takes longer than 10 minutes."
            )
        shown: list[str] = []

        def show(record: dict[str, Any]) -> None:
            operation = OPERATION_STATES.get(record["state"], record["state"])
            if not shown:
                sys.stdout.write(operation)
            elif operation != shown[-1]:
                sys.stdout.write(f"\n{operation}\n")
            else:
                sys.stdout.write(".")
            sys.stdout.flush()
            shown.append(operation)

        try:
            record, timed_out = _waiting.watch(
                self.workspace.client,
                api_path("services", self.name),
                settled=lambda document: document["state"] != "Transitioning",
                timeout=None if timeout_sec is None else float(timeout_sec),
                on_document=show if show_output else None,
                status_key="state",
                poll_seconds=DOT_SECONDS if show_output else _waiting.LONG_POLL_SECONDS,
            )
        except FninferError as exc:
            raise webservice_error(exc, "WebserviceNotFound" if isinstance(exc, NotFound) else None) from exc
        self._load(self.workspace, record)
        if show_output:
            print(flush=True)
        if timed_out:
            raise WebserviceException(
                f"Deployment polling exceeded timeout override of {timeout_sec}s. Current status: {self.state}\n"
                "Deployment may be transitioning or unhealthy, use update_deployment_state() to fetch the latest "
                "status of the webservice"
            )
        if self.state == "Failed":
            raise WebserviceException(
                f"Service deployment polling reached non-successful terminal state, current service state: "
                f"{self.state}\nMore information can be found using '.get_logs()'\nError:\n{self.error}"
            )

    def _auth_header(self, refresh: bool = False) -> dict[str, str]:
        """The service's credential, fetched once and again only after a 401 (a regenerated key, an old token)."""
        if self._credential is not None and not refresh:
            return self._credential
        if self.auth_enabled:
            header = {"Authorization": f"Bearer {self.get_keys()[0]}"}
        elif self.token_auth_enabled:
            header = {"Authorization": f"Bearer {self.get_token()[0]}"}
        else:
            header = {}
        self._credential = header
        return header

    def run(self, input_data: str | bytes | None = None, input: str | bytes | None = None) -> Any:
        """Call the service as a client would. As Azure ML's `Webservice.run`: the parsed JSON body of a 200 answer
        (what the body holds is the app's response format: see docs/services.md), WebserviceException otherwise. The
        request is `input_data` (the ACI/AKS/Local services' name) or `input` (the base class's)."""
        return self._call(_request_body(input_data, input))

    def _call(self, input_data: str | bytes) -> Any:
        for attempt in range(2):
            headers = {"Content-Type": "application/json", **self._auth_header(refresh=attempt > 0)}
            try:
                response = httpx.post(
                    self.scoring_uri, content=input_data, headers=headers, timeout=120, verify=tls_context()
                )
            except httpx.TransportError as exc:
                raise WebserviceException(f"service {self.name!r} at {self.scoring_uri} did not answer: {exc}") from exc
            if response.status_code != 401 or not (self.auth_enabled or self.token_auth_enabled):
                break
        if response.is_error:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            error = error_from_body(response.status_code, body)
            # The request id is what the service's log lines for this call carry (service.get_logs()).
            request_id = response.headers.get("x-request-id")
            raise webservice_error(
                error,
                f"Received bad response from service (Response Code: {response.status_code}"
                + (f", request id {request_id}" if request_id else "")
                + "); more information can be found by calling .get_logs() on the webservice object",
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text  # a text/plain answer (an AMLResponse with a plain body)

    def get_keys(self) -> tuple[str, str]:
        keys = _request(self.workspace, "GET", "services", self.name, "keys")
        return keys["primaryKey"], keys["secondaryKey"]

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """A new 'Primary' or 'Secondary' key; `set_key` sets it to a value you choose (stored sealed by the app)."""
        body = {"keyType": key} if set_key is None else {"keyType": key, "setKey": set_key}
        _request(self.workspace, "POST", "services", self.name, "keys", "regenerate", json=body)
        self._credential = None

    def get_token(self) -> tuple[str, datetime]:
        token = _request(self.workspace, "GET", "services", self.name, "token")
        return token["accessToken"], datetime.fromtimestamp(token["refreshAfter"], UTC)

    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        """The last `num_lines` lines of what init() and run() printed or logged, and the deployment's environment
        report. `init` is accepted as in Azure ML: a Function App has no init container, so it is the same log."""
        text = _request(self.workspace, "GET", "services", self.name, "logs")
        return "\n".join(str(text or "").splitlines()[-num_lines:])

    def update(
        self,
        models: list[Any] | None = None,
        inference_config: InferenceConfig | None = None,
        auth_enabled: bool | None = None,
        token_auth_enabled: bool | None = None,
        deployment_config: DeploymentConfiguration | None = None,
        **settings: Any,
    ) -> None:
        """New models or code roll out as a new version (`wait_for_deployment()`); auth and the other deployment
        settings apply at once. `deployment_config` (as LocalWebservice.update takes it) gives settings the same way.
        As in Azure ML, key and token auth cannot both be on."""
        spec: dict[str, Any] = {}
        if models is not None:
            spec["models"] = [model.id for model in models]
        if inference_config is not None:
            spec.update(_code_spec(self.workspace, inference_config))
            self._inference_config = inference_config
        for ignored in ("image", "image_config", "wait"):
            settings.pop(ignored, None)  # no images on Functions; `wait` is handled by LocalWebservice.update
        deployment = {key: value for key, value in settings.items() if value is not None and key not in KEY_SETTINGS}
        for field in ("tags", "properties"):
            if field in deployment:
                deployment[field] = validators.string_map(deployment[field], field)
        if deployment_config is not None:
            if deployment_config.compute_type != self.compute_type:
                raise invalid(
                    f"service {self.name!r} is a {self.compute_type} service; a {deployment_config.compute_type} "
                    "deployment_config cannot update it (deploy a new service instead)"
                )
            deployment = {**deployment_config.settings, **deployment}
            if deployment_config.keys:
                spec["keys"] = deployment_config.keys
            if deployment_config.auth is not None and auth_enabled is None and token_auth_enabled is None:
                deployment["auth"] = deployment_config.auth
        if auth_enabled is not None or token_auth_enabled is not None:
            deployment["auth"] = _auth_mode(
                self.auth_enabled if auth_enabled is None else auth_enabled,
                self.token_auth_enabled if token_auth_enabled is None else token_auth_enabled,
                default_key=False,
            )
        keys = {slot.removesuffix("_key"): settings[slot] for slot in KEY_SETTINGS if settings.get(slot)}
        if keys:
            spec["keys"] = keys
        if deployment:
            spec["deployment"] = deployment
        self._load(self.workspace, _request(self.workspace, "PATCH", "services", self.name, json=spec))
        self._credential = None

    def reload(self, wait: bool = True) -> None:
        """Take the entry script's folder as it is now: the next call runs the edited code, no redeploy."""
        if self._inference_config is None:
            raise invalid(
                f"reload() needs the InferenceConfig service {self.name!r} was deployed or updated with in this "
                "process: its code is on this machine, the app has only its snapshot"
            )
        spec = _code_spec(self.workspace, self._inference_config)  # the folder and its environment file as they are now
        self._load(self.workspace, _request(self.workspace, "PATCH", "services", self.name, json=spec))
        if wait:
            self.wait_for_deployment()

    def delete(self) -> None:
        _request(self.workspace, "DELETE", "services", self.name)

    @staticmethod
    def list(
        workspace: Workspace,
        compute_type: str | None = None,
        image_name: str | None = None,
        image_id: str | None = None,
        model_name: str | None = None,
        model_id: str | None = None,
        tags: list[Any] | None = None,
        properties: list[Any] | None = None,
        image_digest: str | None = None,
    ) -> list[Webservice]:
        """The services, filtered as Azure ML filters them. Functions services have no container image, so a filter
        on `image_name`, `image_id` or `image_digest` matches none."""
        if image_name or image_id or image_digest:
            return []
        records = _request(workspace, "GET", "services")
        found = []
        for record in records:
            deployment = record["deployment"]
            names = {model.partition(":")[0] for model in record["models"]}
            if (
                (compute_type is None or deployment.get("compute_type", "ACI").lower() == compute_type.lower())
                and (model_name is None or model_name in names)
                and (model_id is None or model_id in record["models"])
                and _matches_pairs(deployment.get("tags") or {}, tags)
                and _matches_pairs(deployment.get("properties") or {}, properties)
            ):
                found.append(_service_class(record)._from_record(workspace, record))
        return found


def _common_settings(
    tags: dict[str, str] | None, properties: dict[str, str] | None, description: str | None
) -> dict[str, Any]:
    return {"tags": tags, "properties": properties, "description": description}


class AciWebservice(Webservice):
    """Mirrors `azureml.core.webservice.AciWebservice`. Its container settings (CPU, memory, SSL, virtual network,
    encryption) are recorded and read back as Azure ML describes them; the Function App's own settings apply."""

    def _load(self, workspace: Workspace, record: dict[str, Any]) -> None:
        super()._load(workspace, record)
        settings = record["deployment"]
        endpoint = urlparse(self.scoring_uri)
        self.container_resource_requirements = ContainerResourceRequirements.from_settings(settings)
        self.enable_app_insights = bool(settings.get("enable_app_insights", False))
        self.location: str | None = settings.get("location")
        self.encryption_properties = EncryptionProperties.from_settings(settings)
        self.vnet_configuration = VnetConfiguration.from_settings(settings)
        # The service is the app's endpoint: its host name and TLS are the app's (Azure's certificate in Azure).
        self.public_fqdn: str | None = endpoint.hostname
        self.public_ip: str | None = None
        self.ssl_enabled = endpoint.scheme == "https"
        self.cname: str | None = settings.get("ssl_cname")
        self.ssl_certificate: str | None = None
        self.ssl_key: str | None = None

    def serialize(self) -> dict[str, Any]:
        return {
            **super().serialize(),
            "containerResourceRequirements": self.container_resource_requirements.serialize(),
            "location": self.location,
            "authEnabled": self.auth_enabled,
            "sslEnabled": self.ssl_enabled,
            "appInsightsEnabled": self.enable_app_insights,
            "sslCertificate": self.ssl_certificate,
            "sslKey": self.ssl_key,
            "cname": self.cname,
            "publicIp": self.public_ip,
            "publicFqdn": self.public_fqdn,
            "encryptionProperties": self.encryption_properties.serialize() if self.encryption_properties else None,
            "vnetConfiguration": self.vnet_configuration.serialize() if self.vnet_configuration else None,
        }

    @staticmethod
    def deploy_configuration(
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        description: str | None = None,
        location: str | None = None,
        auth_enabled: bool | None = None,
        token_auth_enabled: bool | None = None,
        scoring_timeout_ms: int | None = None,
        max_request_bytes: int | None = None,
        response_encoding: str | None = None,
        environment_check: str | None = None,
        **settings: Any,
    ) -> DeploymentConfiguration:
        return DeploymentConfiguration(
            "ACI",
            _auth_mode(auth_enabled, token_auth_enabled, default_key=False),
            cpu_cores=cpu_cores,
            memory_gb=memory_gb,
            **_common_settings(tags, properties, description),
            location=location,
            scoring_timeout_ms=scoring_timeout_ms,
            max_request_bytes=max_request_bytes,
            response_encoding=response_encoding,
            environment_check=environment_check,
            **settings,
        )


class AksWebservice(Webservice):
    """Mirrors `azureml.core.webservice.AksWebservice`. `scoring_timeout_ms`, `max_concurrent_requests_per_container`
    and `max_request_wait_time` apply (see the module docstring); replicas, autoscale, probes and resources are
    recorded and read back as Azure ML describes them."""

    def _load(self, workspace: Workspace, record: dict[str, Any]) -> None:
        super()._load(workspace, record)
        settings = record["deployment"]
        self.autoscaler = AutoScaler.from_settings(settings)
        self.compute_name: str | None = record.get("compute_target")
        self.container_resource_requirements = ContainerResourceRequirements.from_settings(settings)
        self.liveness_probe_requirements = LivenessProbeRequirements.from_settings(settings)
        self.data_collection = DataCollection(False, bool(settings.get("collect_model_data", False)))
        self.enable_app_insights = bool(settings.get("enable_app_insights", False))
        self.max_concurrent_requests_per_container: int = settings.get(
            "replica_max_concurrent_requests", DEFAULT_MAX_CONCURRENT_REQUESTS
        )
        self.max_request_wait_time: int = settings.get("max_request_wait_time", DEFAULT_MAX_REQUEST_WAIT_MS)
        self.num_replicas: int | None = settings.get("num_replicas")
        self.scoring_timeout_ms: int = settings.get("scoring_timeout_ms", DEFAULT_SCORING_TIMEOUT_MS)
        self.namespace: str | None = settings.get("namespace")
        self.deployment_status: str = self.state
        # Endpoint versions (AksEndpoint) have these; a plain AKS service has none, as in Azure ML.
        self.is_default: bool | None = None
        self.traffic_percentile: float | None = None
        self.version_type: str | None = None

    def serialize(self) -> dict[str, Any]:
        return {
            **super().serialize(),
            "appInsightsEnabled": self.enable_app_insights,
            "authEnabled": self.auth_enabled,
            "autoScaler": self.autoscaler.serialize(),
            "computeName": self.compute_name,
            "containerResourceRequirements": self.container_resource_requirements.serialize(),
            "dataCollection": self.data_collection.serialize(),
            "maxConcurrentRequestsPerContainer": self.max_concurrent_requests_per_container,
            "maxQueueWaitMs": self.max_request_wait_time,
            "livenessProbeRequirements": self.liveness_probe_requirements.serialize(),
            "numReplicas": self.num_replicas,
            "deploymentStatus": self.deployment_status,
            "scoringTimeoutMs": self.scoring_timeout_ms,
            "aadAuthEnabled": self.token_auth_enabled,
            "isDefault": self.is_default,
            "trafficPercentile": self.traffic_percentile,
            "versionType": self.version_type,
        }

    def get_access_token(self) -> AksServiceAccessToken:
        """A token for a service deployed with token_auth_enabled (WebserviceException otherwise, as the app
        answers)."""
        token = _request(self.workspace, "GET", "services", self.name, "token")
        claims = jwt.decode(token["accessToken"], options={"verify_signature": False})
        expiry = datetime.fromtimestamp(claims["exp"], UTC) if "exp" in claims else None
        return AksServiceAccessToken(
            token["accessToken"], "Bearer", datetime.fromtimestamp(token["refreshAfter"], UTC), expiry
        )

    @staticmethod
    def deploy_configuration(
        autoscale_enabled: bool | None = None,
        num_replicas: int | None = None,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        auth_enabled: bool | None = None,
        token_auth_enabled: bool | None = None,
        scoring_timeout_ms: int | None = None,
        max_request_bytes: int | None = None,
        response_encoding: str | None = None,
        environment_check: str | None = None,
        **settings: Any,
    ) -> DeploymentConfiguration:
        return DeploymentConfiguration(
            "AKS",
            _auth_mode(auth_enabled, token_auth_enabled, default_key=True),
            autoscale_enabled=autoscale_enabled,
            num_replicas=num_replicas,
            cpu_cores=cpu_cores,
            memory_gb=memory_gb,
            scoring_timeout_ms=scoring_timeout_ms,
            max_request_bytes=max_request_bytes,
            response_encoding=response_encoding,
            environment_check=environment_check,
            **settings,
        )


class LocalWebservice(Webservice):
    """A service for local testing: on fninfer it is served by the same app (the local host), on its port. Its
    `state` uses the same names as other services ('Transitioning', 'Healthy', ...); the STATE_ constants name
    those states, so `service.state == LocalWebservice.STATE_RUNNING` means what it does in Azure ML."""

    #: Azure ML's Docker network for local services; no container runs here, it is named for code that reads it.
    NETWORK_NAME = "azureml-local"
    STATE_DELETED = "Deleted"
    STATE_DEPLOYING = "Transitioning"
    STATE_FAILED = "Failed"
    STATE_RUNNING = "Healthy"
    STATE_UNKNOWN = "Unhealthy"

    def __new__(
        cls, workspace: Workspace | None = None, name: str | None = None, must_exist: bool = True
    ) -> LocalWebservice:
        try:
            return super().__new__(cls, workspace, name)  # type: ignore[return-value]
        except NotFound:
            if must_exist:
                raise
        # As Azure ML's: without must_exist, a service that is not there is an object in state "Deleted".
        service = object.__new__(cls)
        service.workspace, service.name, service.state, service.error = workspace, str(name), "Deleted", None
        service.models, service._record = [], {}
        service._environment_name, service._environment = None, None
        service.tags, service.properties, service.description = {}, {}, None
        service.image_id = service.image = service.image_digest = service.created_by = None
        return service

    def __init__(self, workspace: Workspace | None = None, name: str | None = None, must_exist: bool = True) -> None:
        pass  # __new__ found and loaded the service

    def get_logs(self, num_lines: int = 5000, raw: bool = False) -> str:  # type: ignore[override]
        """What init() and run() printed (`raw` is accepted: there is no Docker output to format)."""
        return super().get_logs(num_lines)

    def delete(self, delete_cache: bool = True, delete_image: bool = False, delete_volume: bool = True) -> None:
        """Delete the service (no container, image or volume exists to keep)."""
        super().delete()
        self.state = "Deleted"

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """As Webservice.wait_for_deployment, ending as Azure ML's local service does ("Local webservice is ...")."""
        self._await_deployment(show_output, timeout_sec)
        print(f"Local webservice is {self.state} at {self.workspace.config.endpoint}", flush=True)

    def reload(self, wait: bool = False) -> None:
        """Take the entry script's folder as it is now, as Azure ML's local service does; the next run() waits for
        the new code."""
        super().reload(wait=wait)

    @staticmethod
    def deploy_configuration(
        port: int | None = None,
        response_encoding: str | None = None,
        environment_check: str | None = None,
        **settings: Any,
    ) -> DeploymentConfiguration:
        # The service is served by the local host's port; `port` is recorded only.
        return DeploymentConfiguration(
            "Local",
            "none",
            port=port,
            response_encoding=response_encoding,
            environment_check=environment_check,
            **settings,
        )

    @property
    def port(self) -> int | None:
        """The port the service answers on: the app's (the local host serves every service)."""
        endpoint = urlparse(self.workspace.config.endpoint)
        return endpoint.port or (443 if endpoint.scheme == "https" else 80)

    def run(self, input_data: str | bytes | None = None, input: str | bytes | None = None) -> Any:
        if self.state == "Transitioning":  # as Azure ML's local service: a call waits for the deployment
            self.wait_for_deployment()
        return self._call(_request_body(input_data, input))

    def update_deployment_state(self, must_exist: bool = False) -> None:
        super().update_deployment_state()

    def update(  # type: ignore[override]
        self,
        models: list[Any] | None = None,
        image_config: Any = None,
        deployment_config: DeploymentConfiguration | None = None,
        wait: bool = False,
        inference_config: InferenceConfig | None = None,
    ) -> None:
        super().update(models=models, inference_config=inference_config, deployment_config=deployment_config)
        if wait and self.state == "Transitioning":
            self.wait_for_deployment()

    def deploy_to_cloud(
        self,
        name: str | None = None,
        deployment_config: DeploymentConfiguration | None = None,
        deployment_target: ComputeTarget | None = None,
    ) -> Webservice:
        """Deploy this local service's code and models as an ACI (or, with an AKS config or target, AKS) service.
        The code is the snapshot the app already holds. Local and cloud services share the app's names: without a
        `name`, the cloud service replaces this local one under its name."""
        config = deployment_config or (
            AksWebservice.deploy_configuration() if _is_aks(deployment_target) else AciWebservice.deploy_configuration()
        )
        if config.compute_type == "Local":
            raise invalid("deploy_to_cloud needs an ACI or AKS deployment_config, not a Local one")
        record = self._record
        spec = {
            "snapshot": record["snapshot"],
            "entry_script": record["entry_script"],
            "requirements": record.get("requirements") or [],
            "environment_name": record.get("environment_name"),
            "models": record["models"],
            "deployment": config.to_spec(),
            "keys": config.keys,
            "compute_target": deployment_target.name if deployment_target is not None else None,
            "overwrite": name is None or name == self.name,
        }
        target = name or self.name
        created = _request(self.workspace, "POST", "services", target, json=spec, context="WebserviceException")
        service = _service_class(created)._from_record(self.workspace, created)
        service._inference_config = self._inference_config
        return service

    @staticmethod
    def list(  # type: ignore[override]
        workspace: Workspace, model_name: str | None = None, model_id: str | None = None, all: bool | None = None
    ) -> list[Webservice]:
        return Webservice.list(workspace, compute_type="Local", model_name=model_name, model_id=model_id)


#: Each service class's compute type, as Azure ML's payloads name it.
_COMPUTE_TYPES: dict[type[Webservice], str] = {AciWebservice: "ACI", AksWebservice: "AKS", LocalWebservice: "Local"}
