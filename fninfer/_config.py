"""The workspace config file: where the app is, how to authenticate to it, and where its storage is.

`fninfer start` writes `.fninfer/config.json` in the folder it runs from; `Workspace.from_config()` finds it from the
current folder or its parents (`FNINFER_CONFIG` names a file explicitly). For an app deployed to Azure the same file
names the Function App's URL and the storage account, and the SDK uses Entra ID tokens (azure-identity) instead of
the local admin key and connection string.

    {
      "endpoint": "http://127.0.0.1:7071",      # the Function App's base URL
      "route_prefix": "api",                     # host.json extensions.http.routePrefix
      "admin_key": "...",                        # local: the admin key the host was started with
      "storage": "DefaultEndpointsProtocol=...", # local: a connection string
      "storage_account": null,                   # Azure: the account name (identity-based access)
      "auth_scope": null,                        # Azure: the Entra ID scope to request tokens for
      "workspace_name": "local", "subscription_id": "local", "resource_group": "local", "location": "local"
    }

`Workspace(subscription_id, resource_group, workspace_name)` and `Workspace.get(name)` resolve to the same config
(`resolve_config`): a local config ("local" names) stands in for whatever workspace v1 code names; a config for an
app in Azure answers only to its own names.

Code running inside the app (a script step, a ParallelRunStep or scoring entry script) has no config file: its
workspace is the app itself (`app_config`), at the address the platform gives every instance in WEBSITE_HOSTNAME
(`fninfer start` sets it as Core Tools does), authenticated with the app's own admin key or, without one, with its
managed identity; its storage is the app's own connection.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from fninfer._exceptions import WorkspaceException
from shared.core import layout
from shared.core.errors import InvalidInput
from shared.core.settings import ADMIN_KEY, ENTRA_AUDIENCE, STORAGE_CONNECTION, get_setting, storage_connection

CONFIG_ENV = "FNINFER_CONFIG"
STATE_DIR_NAME = ".fninfer"
CONFIG_FILE_NAME = "config.json"
LOCAL = "local"
#: The app's own host name (and port), set by the platform on every instance; locally by `fninfer start`.
APP_HOSTNAME = "WEBSITE_HOSTNAME"
#: Host names an app is served on without TLS: the local host's.
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class WorkspaceConfig:
    endpoint: str
    route_prefix: str = "api"
    admin_key: str | None = None
    storage: str | None = None
    storage_account: str | None = None
    auth_scope: str | None = None
    workspace_name: str = "local"
    subscription_id: str = "local"
    resource_group: str = "local"
    location: str = "local"

    @property
    def is_local(self) -> bool:
        """A local host's config: it answers to any workspace name v1 code uses."""
        return self.workspace_name == LOCAL and self.subscription_id == LOCAL and self.resource_group == LOCAL

    @property
    def api_url(self) -> str:
        """Base URL of the app's HTTP functions (`<endpoint>/<routePrefix>`)."""
        base = self.endpoint.rstrip("/")
        return f"{base}/{self.route_prefix}" if self.route_prefix else base

    def __repr__(self) -> str:  # keys and connection strings never reach logs
        return f"WorkspaceConfig(endpoint={self.endpoint!r}, workspace_name={self.workspace_name!r})"

    def write(self, path: Path) -> None:
        """Write atomically (a reader never sees half a file) and readable only by the owner."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        # Created owner-only from the start: the file can hold the admin key and a storage connection string.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(asdict(self), indent=2) + "\n")
        temporary.chmod(0o600)  # an older file of the same name keeps its mode through O_TRUNC
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> WorkspaceConfig:
        try:
            document = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"workspace config {path} cannot be read: {exc}") from exc
        if not isinstance(document, dict) or not document.get("endpoint"):
            raise InvalidInput(f"workspace config {path} has no 'endpoint'")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in document.items() if key in known})


#: An app setting that overrides host.json's routePrefix, as the Functions host reads it.
_ROUTE_PREFIX_OVERRIDE = "AzureFunctionsJobHost__extensions__http__routePrefix"


def _route_prefix(host_json: Path, env: Mapping[str, str]) -> str:
    """host.json's extensions.http.routePrefix ("api" when unset), read here rather than through the local host's
    parser: the deployed app, which has no local host, runs this too."""
    if _ROUTE_PREFIX_OVERRIDE in env:
        return env[_ROUTE_PREFIX_OVERRIDE].strip("/")
    try:
        document = json.loads(host_json.read_text())
    except FileNotFoundError:
        return "api"
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"the app's host.json cannot be read for its route prefix: {exc}") from exc
    http = (document.get("extensions") or {}).get("http") or {} if isinstance(document, dict) else {}
    return str(http.get("routePrefix", "api")).strip("/")


def app_config(environ: Mapping[str, str] | None = None) -> WorkspaceConfig | None:
    """The workspace code running inside the app sees: the app at its own address (https, or http on the local
    host), with the app's admin key, or (no key set) an Entra ID token for the app's audience from its managed
    identity. None outside the app (no WEBSITE_HOSTNAME or no app storage connection)."""
    env = os.environ if environ is None else environ
    hostname = get_setting(APP_HOSTNAME, environ=env)
    if not hostname:
        return None
    try:
        connection = storage_connection(environ=env)
    except InvalidInput:
        return None
    host = hostname.rsplit(":", 1)[0] if hostname.count(":") == 1 else hostname
    scheme = "http" if host.strip("[]") in _LOOPBACK_HOSTS else "https"
    route_prefix = _route_prefix(layout.app_root() / "host.json", env)
    admin_key = get_setting(ADMIN_KEY, environ=env)
    audience = get_setting(ENTRA_AUDIENCE, environ=env)
    if not admin_key and not audience:
        raise InvalidInput(
            f"code inside the app cannot call the app: neither {ADMIN_KEY} nor {ENTRA_AUDIENCE} is set",
            setting=ADMIN_KEY,
        )
    return WorkspaceConfig(
        endpoint=f"{scheme}://{hostname}",
        route_prefix=route_prefix,
        admin_key=admin_key,
        storage=connection.connection_string,
        auth_scope=None if admin_key else f"{audience.rstrip('/')}/.default",  # type: ignore[union-attr]
    )


def app_identity_client_id(environ: Mapping[str, str] | None = None) -> str | None:
    """The client id of the app's user-assigned identity (the one its storage connection names), if any."""
    return get_setting(f"{STORAGE_CONNECTION}__clientId", environ=environ)


def find_config(path: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: `path` (a file or a folder), else $FNINFER_CONFIG, else the nearest
    `.fninfer/config.json` (or `config.json`) in the current folder or its parents."""
    if path is not None:
        candidate = Path(path)
        if candidate.is_dir():
            for inside in (candidate / STATE_DIR_NAME / CONFIG_FILE_NAME, candidate / CONFIG_FILE_NAME):
                if inside.is_file():
                    return inside
            raise InvalidInput(f"no {STATE_DIR_NAME}/{CONFIG_FILE_NAME} or {CONFIG_FILE_NAME} in {candidate}")
        if not candidate.is_file():
            raise InvalidInput(f"workspace config {candidate} does not exist")
        return candidate
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        if not Path(explicit).is_file():
            raise InvalidInput(f"{CONFIG_ENV}={explicit} does not name a file")
        return Path(explicit)
    here = Path.cwd()
    for folder in (here, *here.parents):
        for candidate in (folder / STATE_DIR_NAME / CONFIG_FILE_NAME, folder / CONFIG_FILE_NAME):
            if candidate.is_file():
                return candidate
    raise InvalidInput(
        f"no workspace config found in {here} or its parents: start the local host with `fninfer start` "
        f"(it writes {STATE_DIR_NAME}/{CONFIG_FILE_NAME}) or set {CONFIG_ENV}"
    )


def resolve_config(
    workspace_name: str | None, subscription_id: str | None = None, resource_group: str | None = None
) -> tuple[WorkspaceConfig, Path]:
    """The config for a workspace named as Azure ML names it, found as `Workspace.from_config()` finds one.

    A local config takes the names it is given (the local app is every workspace); a config for an app in Azure
    must carry the same names (those given), else the error names both."""
    path = find_config()
    config = WorkspaceConfig.read(path)
    asked = {"workspace_name": workspace_name, "subscription_id": subscription_id, "resource_group": resource_group}
    given = {key: value for key, value in asked.items() if value}
    if config.is_local:
        return replace(config, **given), path
    wrong = {key: value for key, value in given.items() if getattr(config, key) != value}
    if wrong:
        found = {key: getattr(config, key) for key in wrong}
        raise WorkspaceException(f"no workspace {wrong} is configured: the workspace config {path} describes {found}")
    return config, path


_last_loaded: Path | None = None


def remember_loaded(path: Path) -> None:
    """Note the config a Workspace was loaded from, for what needs "the" workspace without being given one
    (`InteractiveLoginAuthentication().get_authentication_header()` in the seeds)."""
    global _last_loaded
    _last_loaded = path.resolve()


def last_loaded_config() -> Path | None:
    return _last_loaded
