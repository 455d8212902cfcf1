"""`Pipeline`, `PipelineData` and a step output's `PortDataReference`, as `azureml.pipeline.core` has them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fninfer._datastore import Datastore
from fninfer._workspace import Workspace
from shared.errors import InvalidInput

if TYPE_CHECKING:
    from fninfer._parallel_run import ParallelRunStep


class PipelineData:
    """Mirrors `azureml.pipeline.core.PipelineData`: a step's output folder on a datastore. It lives at
    `azureml/<step run id>/<name>/` there, as in Azure ML; `output_path_on_compute` names a folder on an Azure ML
    node and has no meaning on Functions."""

    def __init__(
        self,
        name: str,
        datastore: Datastore | None = None,
        output_path_on_compute: str | None = None,
        output_mode: str = "mount",
        is_directory: bool | None = None,
    ) -> None:
        self.name = name
        self.datastore = datastore
        self.output_path_on_compute = output_path_on_compute
        self.output_mode = output_mode
        self.is_directory = is_directory

    def __repr__(self) -> str:
        return f"PipelineData(name={self.name!r}, datastore={getattr(self.datastore, 'name', None)!r})"


class Pipeline:
    """Mirrors `azureml.pipeline.core.Pipeline`. fninfer runs pipelines of one ParallelRunStep (the seeds' shape)."""

    def __init__(
        self, workspace: Workspace, steps: list[ParallelRunStep], description: str | None = None, **_: Any
    ) -> None:
        if len(steps) != 1:
            raise InvalidInput("fninfer runs pipelines of exactly one ParallelRunStep", field="steps")
        self.workspace = workspace
        self.steps = list(steps)
        self.description = description

    def _definition(self) -> dict[str, Any]:
        """The JSON definition the app runs (uploading each step's source_directory snapshot)."""
        return {"steps": [step._spec(self.workspace) for step in self.steps]}

    def __repr__(self) -> str:
        return f"Pipeline(steps={[step.name for step in self.steps]})"


class PortDataReference:
    """Mirrors `azureml.pipeline.core.PortDataReference`: a step run's output on its datastore."""

    def __init__(self, workspace: Workspace, output: dict[str, Any]) -> None:
        self.workspace = workspace
        self.name: str = output["name"]
        self.datastore_name: str = output["datastore"]
        self.path_on_datastore: str = output["prefix"]
        self._container: str = output["container"]

    def download(self, local_path: str | os.PathLike[str], overwrite: bool = False, show_progress: bool = True) -> str:
        """Download the output folder under `local_path` (keeping `azureml/<step run id>/<name>/`); returns it."""
        datastore = Datastore(self.workspace, self.datastore_name, container_name=self._container)
        datastore.download(local_path, prefix=self.path_on_datastore, overwrite=overwrite, show_progress=show_progress)
        return str(Path(local_path) / self.path_on_datastore)

    def __repr__(self) -> str:
        return f"PortDataReference(name={self.name!r}, path_on_datastore={self.path_on_datastore!r})"
