"""`azureml._restclient.models.run_type_v2.RunTypeV2`: a run's type and traits, as Azure ML's REST API names them."""

from __future__ import annotations

from typing import Any


class RunTypeV2:
    def __init__(
        self, orchestrator: str | None = None, traits: list[str] | None = None, attribution: str | None = None, **_: Any
    ) -> None:
        self.orchestrator = orchestrator
        self.traits = list(traits or [])
        self.attribution = attribution
