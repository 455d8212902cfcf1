"""`Schedule`, `ScheduleRecurrence` and `TimeZone`, as `azureml.pipeline.core.schedule` has them."""

from __future__ import annotations

import os
from datetime import datetime
from enum import Enum
from typing import Any

import yaml

from fninfer._datastore import Datastore
from fninfer._experiment import Experiment
from fninfer._pipeline_run import PipelineRun
from fninfer._record_view import RecordView
from fninfer._workspace import Workspace
from shared.core.errors import InvalidInput
from shared.schedules.recurrence import TIME_ZONES, Recurrence

#: Azure ML's 131 time zones, named as its TimeZone names them, valued with their Windows names (each fires in the
#: IANA zone CLDR maps it to); `ScheduleRecurrence` also takes IANA names such as "Europe/Berlin".
TimeZone = Enum("TimeZone", [(name, windows) for name, windows, _ in TIME_ZONES], type=str)  # type: ignore[misc]


_RECURRENCE_FIELDS = (
    "frequency",
    "interval",
    "start_time",
    "time_zone",
    "hours",
    "minutes",
    "week_days",
    "time_of_day",
)


#: The keys of a `Schedule:` YAML section, as Azure ML reads them.
_SCHEDULE_YAML_KEYS = (
    "description",
    "pipeline_parameters",
    "wait_for_provisioning",
    "wait_timeout",
    "datastore_name",
    "polling_interval",
    "data_path_parameter_name",
    "continue_on_step_failure",
    "path_on_datastore",
    "recurrence",
)


class ScheduleRecurrence:
    """Mirrors `azureml.pipeline.core.ScheduleRecurrence`: how often a schedule fires (see
    shared/schedules/recurrence.py for the exact meaning, which follows Azure ML's)."""

    def __init__(
        self,
        frequency: str,
        interval: int,
        start_time: datetime | str | None = None,
        time_zone: TimeZone | str | None = None,
        hours: list[int] | None = None,
        minutes: list[int] | None = None,
        week_days: list[str] | None = None,
        time_of_day: str | None = None,
    ) -> None:
        self.frequency = frequency
        self.interval = interval
        self.start_time = start_time
        self.time_zone = time_zone
        self.hours = hours
        self.minutes = minutes
        self.week_days = week_days
        self.time_of_day = time_of_day
        self.validate()

    def _document(self) -> dict[str, Any]:
        start = self.start_time.isoformat() if isinstance(self.start_time, datetime) else self.start_time
        zone = self.time_zone.value if isinstance(self.time_zone, Enum) else self.time_zone
        document = {
            "frequency": self.frequency,
            "interval": self.interval,
            "start_time": start,
            "time_zone": zone,
            "hours": self.hours,
            "minutes": self.minutes,
            "week_days": self.week_days,
            "time_of_day": self.time_of_day,
        }
        return {key: value for key, value in document.items() if value is not None}

    def validate(self) -> None:
        """Check the recurrence here, before anything is sent (the app checks it again)."""
        Recurrence.parse(self._document())

    @classmethod
    def _from_document(cls, document: dict[str, Any]) -> ScheduleRecurrence:
        """The recurrence a schedule record stores."""
        return cls(**{key: document.get(key) for key in _RECURRENCE_FIELDS})  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"ScheduleRecurrence(frequency={self.frequency!r}, interval={self.interval!r})"


class Schedule(RecordView):
    """Mirrors `azureml.pipeline.core.Schedule`: runs a published pipeline on a recurrence, or when blobs are added
    or changed under a datastore path (polled every `polling_interval` minutes)."""

    def __init__(self, workspace: Workspace, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self._record = record

    @property
    def pipeline_id(self) -> str | None:
        """The published pipeline it runs (None for a schedule of a pipeline endpoint)."""
        return self._record.get("pipeline_id")

    @property
    def pipeline_endpoint_id(self) -> str | None:
        """The pipeline endpoint whose default version it runs, if it was created for one."""
        return self._record.get("pipeline_endpoint_id")

    @property
    def continue_on_step_failure(self) -> bool | None:
        return self._record.get("continue_on_step_failure")

    @property
    def experiment_name(self) -> str:
        return str(self._record["experiment_name"])

    @property
    def recurrence(self) -> ScheduleRecurrence | None:
        """When a time schedule fires; None for a schedule on data."""
        stored = self._record.get("recurrence")
        return ScheduleRecurrence._from_document(stored) if stored is not None else None

    def _data(self, key: str) -> Any:
        return (self._record.get("data") or {}).get(key)

    @property
    def datastore_name(self) -> str | None:
        return self._data("datastore")

    @property
    def path_on_datastore(self) -> str | None:
        return self._data("path_on_datastore")

    @property
    def polling_interval(self) -> int | None:
        return self._data("polling_interval")

    @property
    def data_path_parameter_name(self) -> str | None:
        return self._data("data_path_parameter_name")

    @staticmethod
    def create(
        workspace: Workspace,
        name: str,
        pipeline_id: str,
        experiment_name: str,
        recurrence: ScheduleRecurrence | None = None,
        description: str | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Datastore | str | None = None,
        polling_interval: int = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
        **_: Any,
    ) -> Schedule:
        """Create the schedule of a published pipeline; with `recurrence` it fires on time, with `datastore` when
        blobs are added or changed under `path_on_datastore`."""
        body = _trigger(recurrence, datastore, polling_interval, data_path_parameter_name, path_on_datastore)
        return Schedule._create(
            workspace,
            {
                "name": name,
                "description": description,
                "pipeline_id": pipeline_id,
                "experiment_name": experiment_name,
                "pipeline_parameters": pipeline_parameters or {},
                "continue_on_step_failure": continue_on_step_failure,
                **body,
            },
        )

    @staticmethod
    def create_for_pipeline_endpoint(
        workspace: Workspace,
        name: str,
        pipeline_endpoint_id: str,
        experiment_name: str,
        recurrence: ScheduleRecurrence | None = None,
        description: str | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Datastore | str | None = None,
        polling_interval: int = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> Schedule:
        """Create a schedule of a pipeline endpoint: each firing runs the endpoint's default version at that time."""
        body = _trigger(recurrence, datastore, polling_interval, data_path_parameter_name, path_on_datastore)
        return Schedule._create(
            workspace,
            {
                "name": name,
                "description": description,
                "pipeline_endpoint_id": pipeline_endpoint_id,
                "experiment_name": experiment_name,
                "pipeline_parameters": pipeline_parameters or {},
                "continue_on_step_failure": continue_on_step_failure,
                **body,
            },
        )

    @staticmethod
    def _create(workspace: Workspace, body: dict[str, Any]) -> Schedule:
        return Schedule(workspace, workspace.client.request("POST", "schedules", json=body))

    def update(
        self,
        name: str | None = None,
        description: str | None = None,
        recurrence: ScheduleRecurrence | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
        status: str | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Datastore | str | None = None,
        polling_interval: int | None = None,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
    ) -> None:
        """Change what is given (None leaves it). A new recurrence counts from now (without a start_time it fires
        at once); a new path or datastore starts from the blobs there now; status is 'Active' or 'Disabled'."""
        if recurrence is not None:
            if self._record.get("recurrence") is None:
                raise InvalidInput("Can not specify a recurrence for a Datastore schedule.", field="recurrence")
            recurrence.validate()
        if datastore is not None and self._record.get("data") is None:
            raise InvalidInput("Can not specify a Datastore for a Recurrence schedule.", field="datastore")
        if status is not None and status not in ("Active", "Disabled"):
            raise InvalidInput("Status must be either Active or Disabled", field="status")
        body = {
            "name": name,
            "description": description,
            "recurrence": recurrence._document() if recurrence is not None else None,
            "pipeline_parameters": pipeline_parameters,
            "status": status,
            "datastore": getattr(datastore, "name", datastore),
            "polling_interval": polling_interval,
            "data_path_parameter_name": data_path_parameter_name,
            "continue_on_step_failure": continue_on_step_failure,
            "path_on_datastore": path_on_datastore,
        }
        changes = {key: value for key, value in body.items() if value is not None}
        self._record = self.workspace.client.request("PATCH", f"schedules/{self.id}", json=changes)

    @staticmethod
    def load_yaml(
        workspace: Workspace,
        filename: str | os.PathLike[str],
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> dict[str, Any]:
        """A schedule's settings from Azure ML's YAML (a `Schedule:` section): its description, pipeline_parameters,
        datastore_name (as a Datastore), polling_interval, ... and recurrence (as a ScheduleRecurrence), for
        Schedule.create."""
        with open(filename) as handle:
            document = yaml.safe_load(handle)
        if not isinstance(document, dict) or "Schedule" not in document:
            raise ValueError('Schedule Yaml file must have a "Schedule:" section')
        section = document["Schedule"] or {}
        found: dict[str, Any] = {}
        for key in _SCHEDULE_YAML_KEYS:
            if key not in section:
                continue
            value = section[key]
            if key == "datastore_name" and value is not None:
                value = Datastore(workspace, value)
            elif key == "recurrence" and value is not None:
                settings = {field: value.get(field) for field in _RECURRENCE_FIELDS if field in value}
                if settings.get("time_zone") is not None:
                    settings["time_zone"] = TimeZone(settings["time_zone"])
                value = ScheduleRecurrence(**settings)
            found[key] = value
        return found

    @staticmethod
    def get(workspace: Workspace, id: str, **_: Any) -> Schedule:
        return Schedule(workspace, workspace.client.request("GET", f"schedules/{id}"))

    @staticmethod
    def list(
        workspace: Workspace,
        active_only: bool = True,
        pipeline_id: str | None = None,
        pipeline_endpoint_id: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> list[Schedule]:
        """Schedules, newest first: the Active ones, or every schedule of one pipeline or one pipeline endpoint."""
        if pipeline_id is not None:
            return Schedule.get_schedules_for_pipeline_id(workspace, pipeline_id)
        if pipeline_endpoint_id is not None:
            return Schedule.get_schedules_for_pipeline_endpoint_id(workspace, pipeline_endpoint_id)
        return Schedule._list(workspace, {"active_only": "true" if active_only else "false"})

    @staticmethod
    def _list(workspace: Workspace, params: dict[str, str]) -> list[Schedule]:
        return [Schedule(workspace, r) for r in workspace.client.request("GET", "schedules", params=params)]

    @staticmethod
    def get_all(
        workspace: Workspace,
        active_only: bool = True,
        pipeline_id: str | None = None,
        pipeline_endpoint_id: str | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> list[Schedule]:
        """Deprecated in Azure ML for `list`."""
        return Schedule.list(workspace, active_only, pipeline_id, pipeline_endpoint_id)

    @staticmethod
    def get_schedules_for_pipeline_id(
        workspace: Workspace, pipeline_id: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> list[Schedule]:
        return Schedule._list(workspace, {"active_only": "false", "pipeline_id": pipeline_id})

    @staticmethod
    def get_schedules_for_pipeline_endpoint_id(
        workspace: Workspace, pipeline_endpoint_id: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> list[Schedule]:
        return Schedule._list(workspace, {"active_only": "false", "pipeline_endpoint_id": pipeline_endpoint_id})

    def enable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        """Fire again, from now on (occurrences while it was disabled do not run)."""
        self._record = self.workspace.client.request("POST", f"schedules/{self.id}/enable")

    def disable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        self._record = self.workspace.client.request("POST", f"schedules/{self.id}/disable")

    def refresh(self) -> None:
        self._record = self.workspace.client.request("GET", f"schedules/{self.id}")

    def get_last_pipeline_run(self) -> PipelineRun | None:
        """The run the schedule started last, or None before its first."""
        self.refresh()
        run_id = self._record.get("last_run_id")
        return PipelineRun(Experiment(self.workspace, self.experiment_name), run_id) if run_id else None

    def get_pipeline_runs(self) -> list[PipelineRun]:
        """The runs the schedule started, newest first."""
        experiment = Experiment(self.workspace, self.experiment_name)
        found = self.workspace.client.request("GET", "pipelines/runs", params={"experiment": self.experiment_name})
        return [
            PipelineRun(experiment, r["id"])
            for r in found
            if (r.get("tags") or {}).get("azureml.scheduleid") == self.id
        ]

    def __repr__(self) -> str:
        return f"Schedule(name={self.name!r}, id={self.id!r}, status={self.status!r})"


def _trigger(
    recurrence: ScheduleRecurrence | None,
    datastore: Datastore | str | None,
    polling_interval: int,
    data_path_parameter_name: str | None,
    path_on_datastore: str | None,
) -> dict[str, Any]:
    """What makes a schedule fire, as the app takes it; the combinations Azure ML refuses are refused here too."""
    if (recurrence is None) == (datastore is None):
        raise InvalidInput("a schedule needs either a recurrence or a datastore to watch (not both)")
    if recurrence is not None:
        if data_path_parameter_name is not None:
            raise InvalidInput("Data Path parameter name can only be specified for Datastore schedules.")
        if path_on_datastore is not None:
            raise InvalidInput("Path on datastore parameter can only be specified for Datastore schedules.")
        recurrence.validate()
        return {"recurrence": recurrence._document()}
    return {
        "datastore": getattr(datastore, "name", datastore),
        "path_on_datastore": path_on_datastore or "",
        "polling_interval": polling_interval,
        "data_path_parameter_name": data_path_parameter_name,
    }
