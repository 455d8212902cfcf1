"""`OutputFileDatasetConfig` and `OutputTabularDatasetConfig`, as `azureml.data.output_dataset_config` has them: a
step's output folder, uploaded to a datastore when the step ends, readable by later steps as a file or tabular
dataset and registrable as a dataset.

On Functions the step gets a local folder for the output (its path is the argument, or the `AZUREML_DATAREFERENCE_`
variable), and everything in it is uploaded when the script has exited 0: `as_mount()` and `as_upload()` mean the
same here, and `source` (where an Azure ML node's script writes) and `source_globs` are not used.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from fninfer._dataset import DatasetConsumptionConfig, _names, _types
from fninfer._datastore import Datastore
from fninfer._step_data import _DataOrigin
from fninfer.data.dataset_type_definitions import PromoteHeadersBehavior
from shared.core import validators
from shared.core.errors import InvalidInput
from shared.registry import tabular


class OutputFileDatasetConfig:
    """Mirrors `azureml.data.OutputFileDatasetConfig`. Without a destination the output goes to
    `azureml/<step run id>/<name>/` on the workspace's default datastore; `destination=(datastore, 'path/{run-id}')`
    puts it there (`{run-id}` and `{output-name}` are filled in, as in Azure ML)."""

    def __init__(
        self,
        name: str | None = None,
        destination: tuple[Datastore, str] | None = None,
        source: str | None = None,
        partition_format: str | None = None,
    ) -> None:
        self.name = validators.validate_name("output", name or f"output_{uuid.uuid4().hex[:8]}")
        if destination is not None and not (
            isinstance(destination, tuple) and len(destination) == 2 and isinstance(destination[1], str)
        ):
            raise InvalidInput("destination must be a tuple (datastore, 'path')", field="destination")
        self.destination = destination
        self.source = source
        self.partition_format = partition_format
        self._mode = "mount"
        self._registration: dict[str, Any] | None = None
        self._origin = _DataOrigin()

    @property
    def mode(self) -> str:
        """How the step writes it: "mount" or "upload" (the same on Functions: a local folder uploaded at the end)."""
        return self._mode

    @property
    def arg_val(self) -> str:
        """How Azure ML refers to the output in a step's arguments (replaced by its local folder when it runs)."""
        return f"DatasetOutputConfig:{self.name}"

    def _copy(self, **changes: Any) -> OutputFileDatasetConfig:
        other = copy.copy(self)  # the same _origin: the same output
        other.__dict__.update(changes)
        return other

    def as_mount(self, disable_metadata_cache: bool = False) -> OutputFileDatasetConfig:
        return self._copy(_mode="mount")

    def as_upload(self, overwrite: bool = False, source_globs: list[str] | None = None) -> OutputFileDatasetConfig:
        return self._copy(_mode="upload")

    def as_input(self, name: str | None = None) -> DatasetConsumptionConfig:
        """This output as a later step's input (a folder of files)."""
        return DatasetConsumptionConfig(name or self.name, self, "mount")

    def register_on_complete(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None
    ) -> OutputFileDatasetConfig:
        """Register the output as a file dataset `name` when the step finishes (a new version each run)."""
        registration = {
            "name": validators.validate_name("dataset", name),
            "description": description,
            "tags": tags or {},
        }
        return self._copy(_registration=registration)

    def read_delimited_files(
        self,
        include_path: bool = False,
        separator: str = ",",
        header: Any = PromoteHeadersBehavior.ALL_FILES_HAVE_SAME_HEADERS,
        partition_format: str | None = None,
        path_glob: str | None = None,
        set_column_types: dict[str, Any] | None = None,
    ) -> OutputTabularDatasetConfig:
        """The output, read as a table of delimited files by the steps that take it as input."""
        spec = {
            "format": "delimited",
            "include_path": include_path,
            "separator": separator,
            "header": header,
            "set_column_types": _types(set_column_types),
        }
        return OutputTabularDatasetConfig(_output=self, _spec=tabular.parse_spec(spec), _path_glob=path_glob)

    def read_parquet_files(
        self,
        include_path: bool = False,
        partition_format: str | None = None,
        path_glob: str | None = None,
        set_column_types: dict[str, Any] | None = None,
    ) -> OutputTabularDatasetConfig:
        spec = {
            "format": "parquet",
            "include_path": include_path,
            "set_column_types": _types(set_column_types),
            "column_types": {},
        }
        return OutputTabularDatasetConfig(_output=self, _spec=tabular.parse_spec(spec), _path_glob=path_glob)

    def _output_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": self.name, "datastore": None, "mode": self._mode}
        if self.destination is not None:
            spec["datastore"] = self.destination[0].name
            spec["destination"] = self.destination[1]
        if self._registration is not None:
            spec["register"] = self._registration
        return spec

    def _read_as(self) -> dict[str, Any]:
        return {"kind": "file"}

    def __repr__(self) -> str:
        return f"OutputFileDatasetConfig(name={self.name!r})"


class OutputTabularDatasetConfig:
    """Mirrors `azureml.data.output_dataset_config.OutputTabularDatasetConfig`: an output read as a table (made by
    `OutputFileDatasetConfig.read_delimited_files()` / `read_parquet_files()`)."""

    def __init__(self, **kwargs: Any) -> None:
        output, spec = kwargs.get("_output"), kwargs.get("_spec")
        if not isinstance(output, OutputFileDatasetConfig) or not isinstance(spec, dict):
            raise InvalidInput("make an OutputTabularDatasetConfig with OutputFileDatasetConfig.read_delimited_files()")
        if kwargs.get("_path_glob") is not None:
            raise InvalidInput("path_glob is not supported: every file of the output is read", field="path_glob")
        self._output = output
        self._spec = spec
        self.name = output.name
        self._origin = output._origin

    @property
    def mode(self) -> str:
        return self._output.mode

    @property
    def arg_val(self) -> str:
        return self._output.arg_val

    def as_input(self, name: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(name or self.name, self, "direct")

    def _with(self, **transform: Any) -> OutputTabularDatasetConfig:
        spec = {**self._spec, "transforms": [*self._spec["transforms"], transform]}
        return OutputTabularDatasetConfig(_output=self._output, _spec=tabular.parse_spec(spec))

    def keep_columns(self, columns: str | list[str]) -> OutputTabularDatasetConfig:
        """The table with these columns only, as the steps that read it see it."""
        return self._with(op="keep_columns", columns=_names(columns), validate=False)

    def drop_columns(self, columns: str | list[str]) -> OutputTabularDatasetConfig:
        return self._with(op="drop_columns", columns=_names(columns))

    def random_split(
        self, percentage: float, seed: int | None = None
    ) -> tuple[OutputTabularDatasetConfig, OutputTabularDatasetConfig]:
        """About `percentage` of the rows, at random (reproducibly: `seed`), and the rest: for script steps (a
        ParallelRunStep cuts its input into mini-batches, which a split of the whole table cannot be)."""
        if not 0 < percentage < 1:
            raise InvalidInput("percentage must be between 0 and 1", field="percentage")
        seed = int(seed if seed is not None else uuid.uuid4().int % 2**31)
        first = self._with(op="random_split", percentage=float(percentage), seed=seed, part=0)
        return first, self._with(op="random_split", percentage=float(percentage), seed=seed, part=1)

    def as_mount(self) -> OutputTabularDatasetConfig:
        return self

    def as_upload(self, overwrite: bool = False, source_globs: list[str] | None = None) -> OutputTabularDatasetConfig:
        return self

    def register_on_complete(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None
    ) -> OutputTabularDatasetConfig:
        return OutputTabularDatasetConfig(
            _output=self._output.register_on_complete(name, description, tags), _spec=self._spec
        )

    def _output_spec(self) -> dict[str, Any]:
        return self._output._output_spec()

    def _read_as(self) -> dict[str, Any]:
        return {"kind": "tabular", "tabular": self._spec}

    def __repr__(self) -> str:
        return f"OutputTabularDatasetConfig(name={self.name!r})"
