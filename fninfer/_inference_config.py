"""`InferenceConfig`: the entry script, its folder and its environment."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer._environment import CondaDependencies, Environment
from fninfer._exceptions import UserErrorException, invalid
from fninfer._snapshot import snapshot
from shared.core.errors import InvalidInput

if TYPE_CHECKING:
    from fninfer._workspace import Workspace


class InferenceConfig:
    """Mirrors `azureml.core.model.InferenceConfig` (runtime 'python' only)."""

    def __init__(
        self,
        entry_script: str,
        runtime: str | None = None,
        conda_file: str | None = None,
        extra_docker_file_steps: str | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        enable_gpu: bool | None = None,
        description: str | None = None,
        base_image: str | None = None,
        base_image_registry: Any = None,
        cuda_version: str | None = None,
        environment: Environment | None = None,
    ) -> None:
        """The image settings (`extra_docker_file_steps`, `enable_gpu`, `base_image`, `base_image_registry`,
        `cuda_version`) are recorded only: a Function App runs its own image."""
        if runtime is not None and runtime.lower() != "python":
            raise InvalidInput(f"runtime {runtime!r} is not supported: fninfer runs Python entry scripts")
        if conda_file is not None and environment is not None:
            raise InvalidInput("give either conda_file or environment, not both")
        self.entry_script = entry_script
        self.runtime = "python"
        self.conda_file = conda_file
        # Without a source_directory, Azure ML deploys the entry script alone (see fninfer/_snapshot.py).
        self.source_directory = str(Path(source_directory).resolve()) if source_directory is not None else None
        self.environment = environment
        self.description = description
        self.extra_docker_file_steps = extra_docker_file_steps
        self.enable_gpu = enable_gpu
        self.base_image = base_image
        self.base_image_registry = base_image_registry
        self.cuda_version = cuda_version
        if not self._local_path(entry_script).is_file():
            where = f"in {self.source_directory}" if self.source_directory else "a file"
            raise InvalidInput(f"entry script {entry_script!r} is not {where}", field="entry_script")

    def _local_path(self, relative: str) -> Path:
        return Path(self.source_directory) / relative if self.source_directory else Path(relative)

    def requirements(self) -> list[str]:
        if self.environment is not None:
            return self.environment.python.conda_dependencies.requirements()
        if self.conda_file is not None:
            path = self._local_path(self.conda_file)
            if not path.is_file():
                path = Path(self.conda_file)
            if not path.is_file():
                raise InvalidInput(f"conda_file {self.conda_file!r} does not exist", field="conda_file")
            return CondaDependencies(path).requirements()
        return []

    def validate_configuration(self) -> None:
        """Check the configuration as Azure ML's does: the entry script is there, and conda_file and environment
        are not both given (WebserviceException otherwise)."""
        if self.conda_file is not None and self.environment is not None:
            raise invalid("give either conda_file or environment, not both")
        if not self._local_path(self.entry_script).is_file():
            raise invalid(f"entry script {self.entry_script!r} does not exist", field="entry_script")

    def validation_script_content(self) -> None:
        """Check the entry script parses as Python (UserErrorException naming the error, as Azure ML's)."""
        path = self._local_path(self.entry_script)
        try:
            contents = path.read_text()
        except OSError as exc:
            raise UserErrorException(
                f"Failed to open {path}, please check if it exists and the read permission. We can not deploy the "
                "model if we can not access this file."
            ) from exc
        try:
            ast.parse(contents, str(path))
        except SyntaxError as exc:
            raise UserErrorException(f"{exc}. Please check it and try local deployment to verify.") from exc

    def _code_spec(self, workspace: Workspace) -> dict[str, Any]:
        """The code part of a deployment: the source folder's snapshot (uploaded), the entry script, the packages
        asked for and the environment's name."""
        code = snapshot(workspace, self.source_directory, self.entry_script)
        return {
            "snapshot": code.manifest,
            "entry_script": code.entry_script,
            "requirements": self.requirements(),
            "environment_name": self.environment.name if self.environment else None,
        }

    def build_create_payload(self, workspace: Workspace, name: str, model_ids: list[str]) -> dict[str, Any]:
        """What deploying `name` with these models sends the app (Azure ML builds its image request here): the code
        is uploaded as it is now."""
        self.validate_configuration()
        return {"name": name, "models": list(model_ids), "description": self.description, **self._code_spec(workspace)}

    def build_profile_payload(
        self,
        profile_name: str,
        input_data: Any = None,
        workspace: Workspace | None = None,
        models: list[Any] | None = None,
        dataset_id: str | None = None,
        container_resource_requirements: Any = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """What `Model.profile` measures with, in Azure ML's keys (the code uploaded when a workspace is given)."""
        payload: dict[str, Any] = {
            "name": profile_name,
            "description": description,
            "inputData": input_data,
            "inputDatasetId": dataset_id,
            "modelIds": [getattr(model, "id", model) for model in models or []],
            "containerResourceRequirements": {
                "cpu": getattr(container_resource_requirements, "cpu", None),
                "memoryInGB": getattr(container_resource_requirements, "memory_in_gb", None),
            },
        }
        if workspace is not None:
            payload.update(self._code_spec(workspace))
        return payload
