"""`InferenceConfig`: the entry script, its folder and its environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fninfer._environment import CondaDependencies, Environment
from shared.errors import InvalidInput


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
