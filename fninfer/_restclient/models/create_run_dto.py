"""`azureml._restclient.models.create_run_dto.CreateRunDto`: the fields of a run Azure ML's REST API creates or
updates (kept as given)."""

from __future__ import annotations

from typing import Any


class CreateRunDto:
    def __init__(self, run_id: str | None = None, **fields: Any) -> None:
        self.run_id = run_id
        for name, value in fields.items():
            setattr(self, name, value)
