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


#: Azure ML's documentation of the class a fninfer class mirrors (what `get_docs_url()` returns, as Azure ML's).
DOCS_URL = "https://docs.microsoft.com/en-us/python/api/{package}/{qualified}?view=azure-ml-py"
_DOCS_MODULES = {
    "Run": ("azureml-core", "azureml.core.run.Run"),
    "PipelineRun": ("azureml-pipeline-core", "azureml.pipeline.core.run.PipelineRun"),
    "StepRun": ("azureml-pipeline-core", "azureml.pipeline.core.run.StepRun"),
    "Experiment": ("azureml-core", "azureml.core.experiment.Experiment"),
}


def docs_url(cls: type) -> str:
    """Azure ML's reference page for the class `cls` mirrors (its nearest base class fninfer knows)."""
    for klass in cls.__mro__:
        if klass.__name__ in _DOCS_MODULES:
            package, qualified = _DOCS_MODULES[klass.__name__]
            return DOCS_URL.format(package=package, qualified=qualified)
    return "https://docs.microsoft.com/en-us/python/api/overview/azure/ml/intro?view=azure-ml-py"


class WorkspacePortal:
    """Azure ML's portal links, where there is no portal: each link is the app's own URL of the record (what a GET
    with the admin key answers). The format strings are Azure ML's, for code that builds its own links."""

    WORKSPACE_FMT = "?wsid=/subscriptions/{0}/resourcegroups/{1}/workspaces/{2}"
    TID_FMT = "&tid={0}"
    DELIM = "#"

    def _portal_workspace(self) -> Any:
        raise NotImplementedError

    @property
    def portal_url(self) -> str:
        """The app's management API: what stands for the studio."""
        return str(self._portal_workspace().config.api_url)

    @property
    def identity(self) -> str:
        """Azure ML's logging identity of the object (its class and id)."""
        return f"{type(self).__name__}#{getattr(self, 'id', '')}"


class ExperimentPortal(WorkspacePortal):
    EXPERIMENT_NAME_PATH = "/experiments/{0}"
    EXPERIMENT_ID_PATH = "/experiments/id/{0}"


class RunPortal(ExperimentPortal):
    RUN_PATH = "/runs/{0}"
