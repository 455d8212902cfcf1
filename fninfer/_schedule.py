"""`Schedule`, `ScheduleRecurrence` and `TimeZone`, as `azureml.pipeline.core.schedule` has them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from fninfer._datastore import Datastore
from fninfer._experiment import Experiment
from fninfer._pipeline_run import PipelineRun
from fninfer._workspace import Workspace
from shared.errors import InvalidInput
from shared.schedules.recurrence import WINDOWS_ZONES, Recurrence

#: Azure ML's time zones (Windows names); `ScheduleRecurrence` also takes IANA names such as "Europe/Berlin".
TimeZone = Enum(  # type: ignore[misc]
    "TimeZone", {name.replace(" ", "").replace(".", ""): name for name in WINDOWS_ZONES}, type=str
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

    def __repr__(self) -> str:
        return f"ScheduleRecurrence(frequency={self.frequency!r}, interval={self.interval!r})"


class Schedule:
    """Mirrors `azureml.pipeline.core.Schedule`: runs a published pipeline on a recurrence, or when blobs are added
    or changed under a datastore path (polled every `polling_interval` minutes)."""

    def __init__(self, workspace: Workspace, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self._record = record

    @property
    def id(self) -> str:
        return str(self._record["id"])

    @property
    def name(self) -> str:
        return str(self._record["name"])

    @property
    def description(self) -> str | None:
        return self._record.get("description")

    @property
    def pipeline_id(self) -> str:
        return str(self._record["pipeline_id"])

    @property
    def status(self) -> str:
        return str(self._record["status"])

    @property
    def experiment_name(self) -> str:
        return str(self._record["experiment_name"])

    @property
    def recurrence(self) -> dict[str, Any] | None:
        """The recurrence as stored (a time schedule), else None."""
        return self._record.get("recurrence")

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
        """Create the schedule; with `recurrence` it fires on time, with `datastore` on data changes."""
        if (recurrence is None) == (datastore is None):
            raise InvalidInput("Schedule.create needs either a recurrence or a datastore to watch")
        body: dict[str, Any] = {
            "name": name,
            "description": description,
            "pipeline_id": pipeline_id,
            "experiment_name": experiment_name,
            "pipeline_parameters": pipeline_parameters or {},
        }
        if recurrence is not None:
            body["recurrence"] = recurrence._document()
        else:
            body["datastore"] = getattr(datastore, "name", datastore)
            body["path_on_datastore"] = path_on_datastore or ""
            body["polling_interval"] = polling_interval
            body["data_path_parameter_name"] = data_path_parameter_name
        return Schedule(workspace, workspace.client.request("POST", "schedules", json=body))

    @staticmethod
    def get(workspace: Workspace, id: str, **_: Any) -> Schedule:
        return Schedule(workspace, workspace.client.request("GET", f"schedules/{id}"))

    @staticmethod
    def list(
        workspace: Workspace, active_only: bool = True, pipeline_id: str | None = None, **_: Any
    ) -> list[Schedule]:
        params = {"active_only": "true" if active_only else "false"}
        if pipeline_id is not None:
            params["pipeline_id"] = pipeline_id
        return [Schedule(workspace, r) for r in workspace.client.request("GET", "schedules", params=params)]

    @staticmethod
    def get_schedules_for_pipeline_id(workspace: Workspace, pipeline_id: str, **_: Any) -> list[Schedule]:
        return Schedule.list(workspace, active_only=False, pipeline_id=pipeline_id)

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
