"""Real-time services from the SDK: `Model.deploy`, `Webservice` and the ACI/AKS/Local deployment configurations.

Which settings have a Functions meaning: `auth_enabled` / `token_auth_enabled` (how callers authenticate),
`scoring_timeout_ms` (504 past it), and fninfer's own `max_request_bytes` (413 past it) and `response_encoding`
("json-string", the default, or "json", Azure ML's documented body: see shared/services/runtime.py). CPU, memory,
replicas, autoscale and ports are recorded on the service but do not change anything: Azure Functions sizes and
scales the app. Defaults follow Azure ML: ACI and Local services have no auth unless asked, AKS services use keys.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from fninfer._compute import ComputeTarget
from fninfer._inference_config import InferenceConfig
from fninfer._snapshot import snapshot
from fninfer._workspace import Workspace
from shared.errors import FninferError, InvalidInput, NotFound, error_from_body


class WebserviceException(FninferError):
    """A deployment failed, or a call to a service did."""


class DeploymentConfiguration:
    def __init__(self, compute_type: str, auth: str, **settings: Any) -> None:
        self.compute_type = compute_type
        self.auth = auth
        self.settings = {key: value for key, value in settings.items() if value is not None}

    def to_spec(self) -> dict[str, Any]:
        return {"compute_type": self.compute_type, "auth": self.auth, **self.settings}


def _auth_mode(auth_enabled: bool | None, token_auth_enabled: bool | None, default_key: bool) -> str:
    if token_auth_enabled:
        if auth_enabled:
            raise InvalidInput("auth_enabled and token_auth_enabled cannot both be set, as in Azure ML")
        return "token"
    return "key" if (default_key if auth_enabled is None else auth_enabled) else "none"


def _code_spec(workspace: Workspace, inference_config: InferenceConfig) -> dict[str, Any]:
    code = snapshot(workspace, inference_config.source_directory, inference_config.entry_script)
    return {
        "snapshot": code.manifest,
        "entry_script": code.entry_script,
        "requirements": inference_config.requirements(),
        "environment_name": inference_config.environment.name if inference_config.environment else None,
    }


def deploy(
    workspace: Workspace,
    name: str,
    models: list[Any],
    inference_config: InferenceConfig,
    deployment_config: DeploymentConfiguration | None = None,
    deployment_target: ComputeTarget | None = None,
    overwrite: bool = False,
) -> Webservice:
    config = deployment_config or AciWebservice.deploy_configuration()
    spec = {
        **_code_spec(workspace, inference_config),
        "models": [model.id for model in models],
        "deployment": config.to_spec(),
        "compute_target": deployment_target.name if deployment_target is not None else None,
        "overwrite": overwrite,
    }
    record = workspace.client.request("POST", f"services/{name}", json=spec)
    service = _service_class(record)._from_record(workspace, record)
    service._inference_config = inference_config
    return service


def _service_class(record: dict[str, Any]) -> type[Webservice]:
    kind = record["deployment"].get("compute_type", "ACI")
    return {"ACI": AciWebservice, "AKS": AksWebservice, "Local": LocalWebservice}.get(kind, Webservice)


class Webservice:
    """Mirrors `azureml.core.webservice.Webservice`: `Webservice(ws, name)` finds a deployed service."""

    def __init__(self, workspace: Workspace | None = None, name: str | None = None) -> None:
        if workspace is None or not name:
            raise InvalidInput("a service is found by workspace and name: Webservice(ws, 'name')")
        try:
            record = workspace.client.request("GET", f"services/{name}")
        except NotFound as exc:
            # azureml code finds-or-deploys with `except WebserviceException`, so a missing service raises that.
            raise WebserviceException(f"WebserviceNotFound: {exc.message}") from exc
        self._load(workspace, record)
        self._inference_config: InferenceConfig | None = None

    @classmethod
    def _from_record(cls, workspace: Workspace, record: dict[str, Any]) -> Webservice:
        service = cls.__new__(cls)
        service._load(workspace, record)
        service._inference_config = None
        return service

    def _load(self, workspace: Workspace, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self._record = record
        self.name: str = record["name"]
        self.state: str = record["state"]
        self.error: str | None = record.get("error")
        self.compute_type: str = record["deployment"].get("compute_type", "ACI")
        self.auth_enabled = record["auth_mode"] == "key"
        self.token_auth_enabled = record["auth_mode"] == "token"
        self.models: list[str] = record["models"]
        self.scoring_uri = f"{workspace.config.api_url}/{record['scoring_path']}"
        self.created_time: str = record["created_time"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace!r}, name={self.name!r}, state={self.state!r})"

    def update_deployment_state(self) -> None:
        self._load(self.workspace, self.workspace.client.request("GET", f"services/{self.name}"))

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait until the service is Healthy or Failed; a failure raises WebserviceException with the reason."""
        deadline = None if timeout_sec is None else time.monotonic() + timeout_sec
        last = None
        while True:
            self.update_deployment_state()
            if show_output and self.state != last:
                print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}+00:00 {self.name}: {self.state}", flush=True)
                last = self.state
            if self.state in ("Healthy", "Failed", "Unhealthy"):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise WebserviceException(f"service {self.name!r} was still {self.state} after {timeout_sec} s")
            time.sleep(0.5)
        if self.state == "Failed":
            if show_output:
                print(f"Deployment failed: {self.error}\n{self.get_logs()}", flush=True)
            raise WebserviceException(f"service {self.name!r} deployment failed: {self.error}")

    def _auth_header(self, refresh: bool = False) -> dict[str, str]:
        """The service's credential, fetched once and again only after a 401 (a regenerated key, an old token)."""
        cached = getattr(self, "_credential", None)
        if cached is not None and not refresh:
            return cached
        if self.auth_enabled:
            header = {"Authorization": f"Bearer {self.get_keys()[0]}"}
        elif self.token_auth_enabled:
            header = {"Authorization": f"Bearer {self.get_token()[0]}"}
        else:
            header = {}
        self._credential = header
        return header

    def run(self, input_data: str | bytes) -> Any:
        """Call the service as a client would; returns the decoded JSON answer (a JSON string of run()'s result)."""
        for attempt in range(2):
            headers = {"Content-Type": "application/json", **self._auth_header(refresh=attempt > 0)}
            response = httpx.post(self.scoring_uri, content=input_data, headers=headers, timeout=120)
            if response.status_code != 401 or not (self.auth_enabled or self.token_auth_enabled):
                break
        body = response.json() if response.content else None
        if response.is_error:
            error = error_from_body(response.status_code, body)
            raise WebserviceException(f"service {self.name!r} answered {response.status_code}: {error.message}")
        return body

    def get_keys(self) -> tuple[str, str]:
        keys = self.workspace.client.request("GET", f"services/{self.name}/keys")
        return keys["primaryKey"], keys["secondaryKey"]

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        if set_key is not None:
            raise InvalidInput("set_key is not supported: fninfer keys are generated by the app")
        self.workspace.client.request("POST", f"services/{self.name}/keys/regenerate", json={"keyType": key})

    def get_token(self) -> tuple[str, datetime]:
        token = self.workspace.client.request("GET", f"services/{self.name}/token")
        return token["accessToken"], datetime.fromtimestamp(token["refreshAfter"], UTC)

    def get_logs(self, num_lines: int = 5000) -> str:
        text = self.workspace.client.request("GET", f"services/{self.name}/logs")
        return "\n".join(str(text).splitlines()[-num_lines:])

    def update(
        self,
        models: list[Any] | None = None,
        inference_config: InferenceConfig | None = None,
        auth_enabled: bool | None = None,
        token_auth_enabled: bool | None = None,
        **settings: Any,
    ) -> None:
        """New models or code roll out as a new version (`wait_for_deployment()`); auth and the other deployment
        settings apply at once. As in Azure ML, key and token auth cannot both be on."""
        spec: dict[str, Any] = {}
        if models is not None:
            spec["models"] = [model.id for model in models]
        if inference_config is not None:
            spec.update(_code_spec(self.workspace, inference_config))
            self._inference_config = inference_config
        deployment = {key: value for key, value in settings.items() if value is not None}
        if auth_enabled is not None or token_auth_enabled is not None:
            deployment["auth"] = _auth_mode(
                self.auth_enabled if auth_enabled is None else auth_enabled,
                self.token_auth_enabled if token_auth_enabled is None else token_auth_enabled,
                default_key=False,
            )
        if deployment:
            spec["deployment"] = deployment
        self._load(self.workspace, self.workspace.client.request("PATCH", f"services/{self.name}", json=spec))

    def reload(self, wait: bool = True) -> None:
        """Take the entry script's folder as it is now: the next call runs the edited code, no redeploy."""
        if self._inference_config is None:
            raise InvalidInput(
                f"reload() needs the InferenceConfig service {self.name!r} was deployed or updated with in this "
                "process: its code is on this machine, the app has only its snapshot"
            )
        spec = _code_spec(self.workspace, self._inference_config)  # the folder and its environment file as they are now
        self._load(self.workspace, self.workspace.client.request("PATCH", f"services/{self.name}", json=spec))
        if wait:
            self.wait_for_deployment()

    def delete(self) -> None:
        self.workspace.client.request("DELETE", f"services/{self.name}")

    @staticmethod
    def list(workspace: Workspace, compute_type: str | None = None) -> list[Webservice]:
        records = workspace.client.request("GET", "services")
        return [
            _service_class(r)._from_record(workspace, r)
            for r in records
            if compute_type is None or r["deployment"].get("compute_type") == compute_type
        ]


class AciWebservice(Webservice):
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
        **settings: Any,
    ) -> DeploymentConfiguration:
        return DeploymentConfiguration(
            "ACI",
            _auth_mode(auth_enabled, token_auth_enabled, default_key=False),
            cpu_cores=cpu_cores,
            memory_gb=memory_gb,
            tags=tags,
            properties=properties,
            description=description,
            location=location,
            scoring_timeout_ms=scoring_timeout_ms,
            max_request_bytes=max_request_bytes,
            response_encoding=response_encoding,
            **settings,
        )


class AksWebservice(Webservice):
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
            **settings,
        )


class LocalWebservice(Webservice):
    @staticmethod
    def deploy_configuration(
        port: int | None = None, response_encoding: str | None = None, **settings: Any
    ) -> DeploymentConfiguration:
        # The service is served by the local host's port; `port` is recorded only.
        return DeploymentConfiguration("Local", "none", port=port, response_encoding=response_encoding, **settings)
