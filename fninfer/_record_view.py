"""What the SDK's objects for app records show of the record they were read from."""

from __future__ import annotations

from typing import Any


class RecordView:
    """The id, name, description and status of a published pipeline, pipeline endpoint or schedule: read from the
    record the app answered with (`_record`, replaced by each call that changes it)."""

    _record: dict[str, Any]

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
    def status(self) -> str:
        return str(self._record["status"])
