"""`Model.profile`: the models' latency and throughput, measured on the app with the sample dataset's rows.

Azure ML deploys the models to a test container and drives it with the dataset's rows. fninfer does the same on the
Function App: it deploys a temporary service (an ACI-typed service with the models and the inference config), sends
every row as one scoring request, in turn, measures each round trip from this machine, then deletes the service.
The figures are those measurements: latency percentiles, the success rate and the queries per second achieved one
request at a time. CPU and memory are not measured (Azure Functions sizes the app, and a client cannot see an
instance's use), so `maxUtilized*` and `recommended*` stay None rather than being invented.

The rows: each row of a tabular dataset's first column (as Azure ML takes them), each non-empty line of a file
dataset's files, or a list of request bodies.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from fninfer._client import check_name
from fninfer._exceptions import UserErrorException, WebserviceException
from fninfer._http import tls_context
from fninfer._workspace import Workspace
from shared.core.lazy_modules import lazy

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")  # imported when figures are computed, not by `import fninfer.core`

MAX_ROWS = 10_000
DETAIL_KEYS_SUCCESS = (
    "requestedCpu",
    "requestedMemoryInGB",
    "requestedQueriesPerSecond",
    "maxUtilizedMemoryInGB",
    "maxUtilizedCpu",
    "totalQueries",
    "successQueries",
    "successRate",
    "averageLatencyInMs",
    "latencyPercentile50InMs",
    "latencyPercentile90InMs",
    "latencyPercentile95InMs",
    "latencyPercentile99InMs",
    "latencyPercentile999InMs",
    "measuredQueriesPerSecond",
    "state",
    "name",
    "description",
    "createdTime",
    "error",
    "recommendedMemoryInGB",
    "recommendedCpu",
)
DETAIL_KEYS_ERROR = ("name", "description", "state", "requestedCpu", "requestedMemoryInGB", "error", "createdTime")


def sample_rows(input_dataset: Any) -> list[str]:
    """The request bodies the dataset holds (see the module docstring)."""
    if isinstance(input_dataset, list | tuple):
        rows = [row if isinstance(row, str) else str(row) for row in input_dataset]
    elif callable(getattr(input_dataset, "to_pandas_dataframe", None)):
        frame = input_dataset.to_pandas_dataframe()
        rows = [str(value) for value in frame.iloc[:, 0].tolist()]
    elif callable(getattr(input_dataset, "download", None)):
        with tempfile.TemporaryDirectory(prefix="fninfer-profile-") as folder:
            rows = []
            for path in sorted(input_dataset.download(target_path=folder, overwrite=True)):
                rows += [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    else:
        raise UserErrorException(
            f"input_dataset must be a dataset (tabular, or files of one request per line), not {input_dataset!r}",
            field="input_dataset",
        )
    if not rows:
        raise UserErrorException("input_dataset holds no rows to send", field="input_dataset")
    return rows[:MAX_ROWS]


class ModelProfile:
    """Mirrors `azureml.core.profile.ModelProfile`: the outcome of a `Model.profile` run."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = name
        self.description: str | None = None
        self.created_time = datetime.now(UTC)
        self.id = uuid.uuid4().hex
        # Azure ML's operation ids: the measurement runs in this process, so its id is the profile's own.
        self.create_operation_id = self.id
        self.parent_request_id: str | None = None
        self.state = "NotStarted"
        self.model_ids: list[str] = []
        self.requested_cpu: float | None = None
        self.requested_memory_in_gb: float | None = None
        self.requested_queries_per_second: float | None = None
        self.input_dataset_id: str | None = None
        self.environment: str | None = None
        self.max_utilized_memory: float | None = None
        self.max_utilized_cpu: float | None = None
        self.recommended_memory: float | None = None
        self.recommended_cpu: float | None = None
        self.total_queries: int | None = None
        self.success_queries: int | None = None
        self.success_rate: float | None = None
        self.average_latency_in_ms: float | None = None
        self.latency_percentile_50_in_ms: float | None = None
        self.latency_percentile_90_in_ms: float | None = None
        self.latency_percentile_95_in_ms: float | None = None
        self.latency_percentile_99_in_ms: float | None = None
        self.latency_percentile_999_in_ms: float | None = None
        self.measured_queries_per_second: float | None = None
        self.error: dict[str, str] | None = None
        self.error_logs_url: str | None = None
        self._done = threading.Event()

    def __repr__(self) -> str:
        return f"ModelProfile(workspace={self.workspace!r}, name={self.name!r}, state={self.state!r})"

    def wait_for_completion(self, show_output: bool = False) -> None:
        """Wait until the measurement is over: Succeeded, or Failed (a warning says why, as in Azure ML)."""
        while not self._done.wait(timeout=2.0):
            if show_output:
                print(f"{self.name}: {self.state}", flush=True)
        if show_output:
            print(f"{self.name}: {self.state}", flush=True)
        if self.state == "Failed":
            warnings.warn(f"profiling {self.name!r} failed: {(self.error or {}).get('message')}", stacklevel=2)

    wait_for_profiling = wait_for_completion  # the name older Azure ML samples use

    def serialize(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "createdTime": self.created_time.isoformat(),
            "state": self.state,
            "description": self.description,
            "requestedCpu": self.requested_cpu,
            "requestedMemoryInGB": self.requested_memory_in_gb,
            "requestedQueriesPerSecond": self.requested_queries_per_second,
            "inputDatasetId": self.input_dataset_id,
            "maxUtilizedMemoryInGB": self.max_utilized_memory,
            "totalQueries": self.total_queries,
            "successQueries": self.success_queries,
            "successRate": self.success_rate,
            "averageLatencyInMs": self.average_latency_in_ms,
            "latencyPercentile50InMs": self.latency_percentile_50_in_ms,
            "latencyPercentile90InMs": self.latency_percentile_90_in_ms,
            "latencyPercentile95InMs": self.latency_percentile_95_in_ms,
            "latencyPercentile99InMs": self.latency_percentile_99_in_ms,
            "latencyPercentile999InMs": self.latency_percentile_999_in_ms,
            "modelIds": self.model_ids,
            "environment": self.environment,
            "maxUtilizedCpu": self.max_utilized_cpu,
            "measuredQueriesPerSecond": self.measured_queries_per_second,
            "error": self.error,
            "errorLogsUri": self.error_logs_url,
            "recommendedMemoryInGB": self.recommended_memory,
            "recommendedCpu": self.recommended_cpu,
        }

    def get_details(self) -> dict[str, Any]:
        """The measured figures (and the requested resources), as Azure ML's: keys with a value only."""
        document = self.serialize()
        keys = DETAIL_KEYS_SUCCESS if self.state == "Succeeded" else DETAIL_KEYS_ERROR
        return {key: document[key] for key in keys if document.get(key) is not None}

    def _measure(self, service: Any, rows: list[str]) -> None:
        latencies, successes = [], 0
        headers = {"Content-Type": "application/json"}
        started = time.perf_counter()
        with httpx.Client(timeout=120, verify=tls_context()) as client:
            for row in rows:
                sent = time.perf_counter()
                response = client.post(service.scoring_uri, content=row.encode(), headers=headers)
                latencies.append((time.perf_counter() - sent) * 1000)
                successes += response.status_code == 200
        elapsed = time.perf_counter() - started
        measured = np.array(latencies)
        self.total_queries, self.success_queries = len(rows), successes
        self.success_rate = successes / len(rows)
        self.average_latency_in_ms = round(float(measured.mean()), 3)
        for percentile, attribute in ((50, "50"), (90, "90"), (95, "95"), (99, "99"), (99.9, "999")):
            setattr(self, f"latency_percentile_{attribute}_in_ms", round(float(np.percentile(measured, percentile)), 3))
        self.measured_queries_per_second = round(successes / elapsed, 3) if elapsed > 0 else None


def start_profile(
    workspace: Workspace,
    profile_name: str,
    models: list[Any],
    inference_config: Any,
    input_dataset: Any,
    cpu: float | None = None,
    memory_in_gb: float | None = None,
    description: str | None = None,
) -> ModelProfile:
    """Check the inputs, then measure in the background; `wait_for_completion()` waits for the figures."""
    if not profile_name:
        raise UserErrorException("profile_name cannot be None or empty.", field="profile_name")
    check_name("profile", profile_name)
    rows = sample_rows(input_dataset)
    profile = ModelProfile(workspace, profile_name)
    profile.description = description
    profile.model_ids = [model.id for model in models]
    profile.requested_cpu, profile.requested_memory_in_gb = cpu, memory_in_gb
    profile.input_dataset_id = getattr(input_dataset, "id", None)
    environment = getattr(inference_config, "environment", None) if inference_config is not None else None
    profile.environment = getattr(environment, "name", None)
    profile.state = "Running"

    def run() -> None:
        from fninfer._webservice import AciWebservice, deploy

        service = None
        try:
            config = AciWebservice.deploy_configuration(cpu_cores=cpu, memory_gb=memory_in_gb)
            name = f"profile-{profile_name[:40]}-{uuid.uuid4().hex[:8]}".lower()
            service = deploy(workspace, name, models, inference_config, config)
            service.wait_for_deployment()
            profile._measure(service, rows)
            profile.state = "Succeeded"
        except Exception as exc:  # the outcome is reported on the profile, as Azure ML's is
            profile.state = "Failed"
            logs = ""
            if service is not None and not isinstance(exc, httpx.TransportError):
                try:
                    logs = service.get_logs(num_lines=50)
                except WebserviceException:
                    logs = ""
            profile.error = {"message": f"{type(exc).__name__}: {exc}" + (f"\n{logs}" if logs else "")}
        finally:
            if service is not None:
                with contextlib.suppress(WebserviceException):  # already gone
                    service.delete()
            profile._done.set()

    threading.Thread(target=run, name=f"profile-{profile_name}", daemon=True).start()
    return profile
