"""`Model.package`: Azure ML builds a Docker image (or a Dockerfile) holding the models and the inference
environment; fninfer builds what a Function App runs, the zip of `fninfer package`, with the models baked in.

The app packaged is the Functions app of the current folder (the one holding `function_app.py`), else the app this
SDK belongs to. The dependencies are the app's own (`pyproject.toml`), joined with the inference config's
environment as `fninfer package --from-environments` joins registered environments: a pin that conflicts with the
app fails the build naming both. The zip is written to `.fninfer/packages/<image_name>[-<image_label>].zip`. There is
no Dockerfile to generate: `generate_dockerfile=True` is refused with that reason.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fninfer._exceptions import WebserviceException, invalid
from fninfer._workspace import Workspace
from shared.core import layout, validators
from shared.core.errors import FninferError


def _app_dir() -> Path:
    here = Path.cwd()
    return here if (here / "function_app.py").is_file() else layout.app_root()


class ModelPackage:
    """Mirrors `azureml.core.model.ModelPackage`: a package being built; `location` is the zip once Succeeded."""

    def __init__(self, workspace: Workspace, operation_id: str, environment: Any = None) -> None:
        self.workspace = workspace
        self.id = operation_id
        self.environment = environment
        self.location: str | None = None
        self.generate_dockerfile = False  # no Dockerfile: the package is a Functions zip
        self.package_build_log_uri: str | None = None  # the build's log is get_logs(), kept in this process
        self.state = "NotStarted"
        self.created_time = datetime.now(UTC)
        self.error: str | None = None
        self._lines: list[str] = []
        self._done = threading.Event()

    def __repr__(self) -> str:
        return f"ModelPackage(id={self.id!r}, state={self.state!r}, location={self.location!r})"

    def wait_for_creation(self, show_output: bool = False) -> None:
        """Wait for the build; a failed build raises WebserviceException with the reason."""
        while not self._done.wait(timeout=2.0):
            if show_output:
                print(f"package {self.id}: {self.state}", flush=True)
        if show_output:
            print(self.get_logs(), flush=True)
        if self.state == "Failed":
            raise WebserviceException(f"package {self.id} failed: {self.error}")

    def get_logs(self, decode: bool = True, offset: int = 0) -> str:
        """What the build printed: the zip's size, what it holds, the dependencies installed."""
        text = "\n".join(self._lines)[offset:]
        return text if decode else text.encode()  # type: ignore[return-value]

    def update_creation_state(self) -> None:
        """The state is kept up to date by the build itself."""

    def get_container_registry(self) -> None:
        raise invalid("a fninfer package is a zip for Azure Functions, not an image in a container registry")

    def pull(self) -> None:
        raise invalid(f"a fninfer package is a zip, not an image to pull: it is at {self.location}")

    def save(self, output_directory: str) -> None:
        raise invalid(f"there is no Dockerfile to save: the package is the zip at {self.location}")

    def serialize(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "location": self.location,
            "createdTime": self.created_time.isoformat(),
            "error": self.error,
        }


def start_package(
    workspace: Workspace,
    models: list[Any],
    inference_config: Any = None,
    generate_dockerfile: bool = False,
    image_name: str | None = None,
    image_label: str | None = None,
) -> ModelPackage:
    """Check the request, then build in the background; `wait_for_creation()` waits for the zip."""
    from fninfer_cli.packaging.build import PackageRequest, build_package
    from fninfer_cli.packaging.dependencies import Target, project_dependencies
    from fninfer_cli.packaging.environments import union

    if generate_dockerfile:
        raise invalid("generate_dockerfile: fninfer packages a zip for Azure Functions, there is no Dockerfile")
    if not models:
        raise invalid("Model.package needs at least one model to bake in", field="models")
    name = validators.validate_name("package", image_name or f"package-{uuid.uuid4().hex[:8]}")
    if image_label:
        name += f"-{validators.validate_name('image label', image_label)}"
    app_dir = _app_dir()
    output = Path.cwd() / ".fninfer" / "packages" / f"{name}.zip"
    package = ModelPackage(workspace, name, getattr(inference_config, "environment", None))
    package.location = str(output)
    requirements = inference_config.requirements() if inference_config is not None else []
    package.state = "Running"

    def build() -> None:
        try:
            wanted = None
            if requirements:
                python = Target().python_version
                merged = union(project_dependencies(app_dir), {"inference_config": requirements}, python)
                package._lines += [f"note: {note}" for note in merged.notes]
                wanted = tuple(merged.requirements)
            request = PackageRequest(
                app_dir=app_dir,
                output=output,
                models=tuple(model.id for model in models),
                storage=workspace.storage,
                requirements=wanted,
            )
            package._lines += build_package(request).lines()
            package.state = "Succeeded"
        except FninferError as exc:
            package.state, package.error = "Failed", exc.message
            package._lines.append(f"failed: {exc.message}")
        except Exception as exc:  # a build that breaks unexpectedly still ends, with its reason
            package.state, package.error = "Failed", f"{type(exc).__name__}: {exc}"
            package._lines.append(f"failed: {package.error}")
        finally:
            package._done.set()

    threading.Thread(target=build, name=f"package-{name}", daemon=True).start()
    return package
