"""`azureml._restclient.experiment_client.ExperimentClient`: Azure ML's REST client for an experiment's runs."""

from __future__ import annotations

from typing import Any

from fninfer._exceptions import UserErrorException


class ExperimentClient:
    def __init__(self, service_context: Any, experiment_name: str, experiment_id: str | None = None, **_: Any):
        self.service_context = service_context
        self.experiment_name = experiment_name
        self.experiment_id = experiment_id

    def create_run(self, run_id: str | None = None, create_run_dto: Any = None, **_: Any) -> Any:
        raise UserErrorException(
            "ExperimentClient.create_run calls Azure ML's internal REST API (azureml._restclient), which fninfer's "
            "app does not serve: set what a run shows with Run.tag / Run.add_properties instead"
        )
