"""How steps name the data they read and write, as the app's definition records it
(shared/pipelines/engine/definition.py).

Data passed between steps is a `PipelineData`, an `OutputFileDatasetConfig` or its `read_delimited_files()` /
`read_parquet_files()` table. The step that lists it in its outputs writes it; a step that lists it (or
`.as_input()`, `.as_mount()`, `.as_download()` of it) in its inputs reads it, and so runs after the writer. Copies
made by `as_mount()`, `as_upload()`, `register_on_complete()`, ... share one `_DataOrigin`, which remembers the step
that writes it, so `Pipeline(ws, steps=[last_step])` can find the steps upstream (resolve_closure), as in Azure ML.
"""

from __future__ import annotations

from typing import Any, Protocol

from fninfer._dataset import AbstractDataset, DatasetConsumptionConfig, FileDataset
from fninfer._datastore import DataReference
from shared.core.errors import InvalidInput


class _DataOrigin:
    """What every copy of one piece of step data shares: the step that writes it (once a step lists it)."""

    def __init__(self) -> None:
        self.producer: Any = None


class StepData(Protocol):
    """PipelineData, OutputFileDatasetConfig and OutputTabularDatasetConfig."""

    name: str
    _origin: _DataOrigin

    def _output_spec(self) -> dict[str, Any]: ...

    def _read_as(self) -> dict[str, Any]: ...


def is_step_data(value: object) -> bool:
    return hasattr(value, "_origin") and hasattr(value, "_read_as")


def consumption(value: Any, default_name: str | None = None) -> DatasetConsumptionConfig:
    """What a step's `inputs` entry means: a dataset, a DataReference or step data as a named input."""
    if isinstance(value, DatasetConsumptionConfig):
        return value
    if isinstance(value, DataReference):
        return data_reference_input(value)
    if isinstance(value, AbstractDataset):
        return value.as_named_input(value.name or default_name or "input")
    if is_step_data(value):
        return DatasetConsumptionConfig(value.name, value, "mount")
    raise InvalidInput(
        f"a step input must be a dataset (dataset.as_named_input(name)), a DataReference, a PipelineData or an "
        f"OutputFileDatasetConfig, not {type(value).__name__}",
        field="inputs",
    )


def data_reference_input(reference: DataReference) -> DatasetConsumptionConfig:
    """A DataReference as a script step's input named after it: its path as a file dataset, mounted ("mount":
    downloaded, and what the script writes there uploaded back), downloaded, or an empty folder uploaded
    ("upload")."""
    dataset = FileDataset(reference.datastore.workspace, _file_definition(reference), {})
    mode = "download" if reference.mode == "download" else "mount"
    named = DatasetConsumptionConfig(reference.data_reference_name or "input", dataset, mode, reference.path_on_compute)
    named._reference_mode = reference.mode
    return named


def _file_definition(reference: DataReference) -> dict[str, Any]:
    return {
        "kind": "file",
        "paths": [{"datastore": reference.datastore.name, "path": reference._pattern()}],
        "partition_format": None,
    }


def input_spec(named: DatasetConsumptionConfig, reference: str) -> dict[str, Any]:
    """The definition's record of one input (`reference` is how a PipelineParameter is referred to)."""
    dataset = named.dataset
    if is_step_data(dataset):
        return {**named._input(), "data": dataset.name, **dataset._read_as()}
    if hasattr(dataset, "_declaration"):  # a PipelineParameter standing for the dataset
        return {**named._input(), reference: dataset}
    return {**named._input(), **dataset._step_input()}


def output_spec(output: Any) -> dict[str, Any]:
    if not is_step_data(output):
        raise InvalidInput(
            f"a step output must be a PipelineData or an OutputFileDatasetConfig, not {type(output).__name__}",
            field="outputs",
        )
    return output._output_spec()


def produced_by(output: Any, step: Any) -> None:
    """`step` writes `output`: steps that read it run after `step`."""
    if output._origin.producer not in (None, step):
        raise InvalidInput(
            f"{output.name!r} is already an output of step {output._origin.producer.name!r}: each PipelineData or "
            "OutputFileDatasetConfig has one producer",
            field="outputs",
        )
    output._origin.producer = step


def producer_of(value: Any) -> Any:
    """The step that writes what an input reads, if it is step data."""
    dataset = getattr(value, "dataset", value)
    return dataset._origin.producer if is_step_data(dataset) else None
