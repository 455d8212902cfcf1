"""The workspace config file `fninfer start` writes so the SDK finds the app: `Workspace.from_config()` reads it from
`.fninfer/config.json` in the folder the host runs from (or a parent). The SDK documents the file (fninfer/_config.py);
the host writes the local form, and tests/unit/test_host_workspace_config.py checks that the SDK reads what the
host writes.

    {
      "endpoint": "http://127.0.0.1:7071",   the host's base URL
      "route_prefix": "api",                  host.json extensions.http.routePrefix
      "admin_key": "...",                     the admin key the host was started with
      "storage": "DefaultEndpointsProtocol=...",  the app's storage connection string (none with an identity)
      "workspace_name": "local", "subscription_id": "local", "resource_group": "local", "location": "local"
    }

The "local" names make it a local config, which stands in for whatever workspace v1 code names.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from fninfer_host.errors import HostError

STATE_DIR_NAME = ".fninfer"
CONFIG_FILE_NAME = "config.json"
LOCAL = "local"


@dataclass(frozen=True)
class LocalWorkspaceConfig:
    endpoint: str
    route_prefix: str
    admin_key: str
    storage: str | None = None
    workspace_name: str = LOCAL
    subscription_id: str = LOCAL
    resource_group: str = LOCAL
    location: str = LOCAL

    def __repr__(self) -> str:  # the key and the connection string never reach logs
        return f"LocalWorkspaceConfig(endpoint={self.endpoint!r})"

    def write(self, path: Path) -> None:
        """Write atomically (a reader never sees half a file) and readable only by the owner: the file holds the
        admin key and a storage connection string."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(asdict(self), indent=2) + "\n")
        temporary.chmod(0o600)  # an older file of the same name keeps its mode through O_TRUNC
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> LocalWorkspaceConfig:
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise HostError(f"workspace config {path} cannot be read: {exc}") from exc
        if not isinstance(document, dict) or not document.get("endpoint"):
            raise HostError(f"workspace config {path} has no 'endpoint'")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in document.items() if key in known})
