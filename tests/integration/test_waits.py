"""The SDK's waits against a real host: they follow the run or the service with long polls on the app
(`GET ...?wait=`), so they return once it ends with a few requests, print what Azure ML's print, and time out or
raise as Azure ML's do. How soon after the end they return is measured in benchmarks/waits.py, not asserted here."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from fninfer.core import Experiment, Run, Workspace
from fninfer.core.model import InferenceConfig, Model
from fninfer.core.webservice import AciWebservice, LocalWebservice, WebserviceException
from fninfer.pipeline.core import ActivityFailedException
from shared.core.storage import Storage
from shared.runs.run_records import get_run
from shared.services import service_records
from tests.hosting import RunningHost
from tests.integration.test_batch_host import pipeline_for, wait_until

SLOW_INIT = "import time\n\n\ndef init():\n    time.sleep({seconds})\n\n\ndef run(raw_data):\n    return [1]\n"


class RequestLog:
    """The SDK's requests to the app, by path (what the client sent, not what a mock saw)."""

    def __init__(self, ws: Workspace) -> None:
        self.paths: Counter[str] = Counter()
        self.waits: list[httpx.URL] = []
        ws.client._http.event_hooks["request"].append(self.record)

    def record(self, request: httpx.Request) -> None:
        self.paths[request.url.path] += 1
        if "wait" in request.url.params:
            self.waits.append(request.url)

    def to(self, suffix: str) -> int:
        return sum(count for path, count in self.paths.items() if path.endswith(suffix))


def slow_service(ws: Workspace, tmp_path: Path, name: str, seconds: float, config: Any = None) -> Any:
    folder = tmp_path / f"src-{name}"
    folder.mkdir()
    (folder / "score.py").write_text(SLOW_INIT.format(seconds=seconds))
    inference = InferenceConfig(entry_script="score.py", source_directory=folder)
    return Model.deploy(ws, name, [], inference, config or AciWebservice.deploy_configuration())


def test_a_pipeline_wait_returns_at_the_end_with_a_few_requests(
    ws: Workspace, storage: Storage, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = pipeline_for(ws, tmp_path, {"a.txt": "sleep 3", "b.txt": "ok"}, process_count_per_node=1)
    submitted = ws_experiment(ws).submit(pipeline)
    requests = RequestLog(ws)
    assert submitted.wait_for_completion(show_output=False) == "Finished"
    record = get_run(storage, submitted.id)
    assert record["status"] == "Finished" and record["end_time"] is not None
    # The 3 s step polled every 0.1 s growing to 2 s would have been ~10 reads; a wait for the status is the first
    # read and one long poll (two if the poll's bound or a reconnect cut one short).
    assert requests.to(f"pipelines/runs/{submitted.id}") <= 3
    assert all(url.params["wait"] in ("NotStarted", "Running") for url in requests.waits)
    out = capsys.readouterr().out
    assert f"PipelineRunId: {submitted.id}" in out and "Link to Azure Machine Learning Portal:" in out


def ws_experiment(ws: Workspace) -> Experiment:
    return Experiment(ws, "wait-tests")


def test_show_output_prints_azure_mls_shape_and_progress(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contents = {f"{i}.txt": "sleep 0.5" for i in range(4)}
    run = ws_experiment(ws).submit(pipeline_for(ws, tmp_path, contents, process_count_per_node=1))
    requests = RequestLog(ws)
    assert run.wait_for_completion(show_output=True) == "Finished"
    out = capsys.readouterr().out
    step = next(run.get_children())
    for expected in (
        f"PipelineRunId: {run.id}",
        "PipelineRun Status: Running",
        f"StepRunId: {step.id}",
        "Finished: 2/2 mini-batches, 0 of 4 items failed",
        "StepRun(score) Execution Summary",
        "StepRun( score ) Status: Finished",
        "PipelineRun Execution Summary",
        "PipelineRun Status: Finished",
    ):
        assert expected in out, expected
    assert out.index("PipelineRun Status: Running") < out.index("StepRun(score) Execution Summary")
    assert out.index("StepRun(score) Execution Summary") < out.index("PipelineRun Execution Summary")
    # Progress is asked for by ETag: an answer per change (at most about one a second), not a read per interval.
    assert requests.waits and all(url.params["wait"].startswith('"') for url in requests.waits)
    assert requests.to(f"pipelines/runs/{run.id}") <= 10


def test_a_wait_times_out_as_azure_mls_does(ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Long enough to outlast both waits; short, because cancelling does not stop a run() already sleeping: its
    # invocation goes on, and a host stopping waits for it (5 s at most).
    run = ws_experiment(ws).submit(pipeline_for(ws, tmp_path, {"a.txt": "sleep 6"}, process_count_per_node=1))
    try:
        status = run.wait_for_completion(show_output=True, timeout_seconds=1)
        assert status in ("NotStarted", "Running")
        out = capsys.readouterr().out
        assert "Timed out of waiting. Elapsed time:" in out and f"PipelineRun Status: {status}" in out
        assert run.wait_for_completion(show_output=False, timeout_seconds=0.5) in ("NotStarted", "Running")
    finally:
        run.cancel()
    assert run.wait_for_completion(show_output=False) == "Canceled"


def test_step_run_and_run_waits(ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing = ws_experiment(ws).submit(
        pipeline_for(ws, tmp_path, {"a.txt": "raise"}, run_max_try=1, allowed_failed_count=0)
    )
    wait_until(lambda: any(True for _ in failing.get_children()))
    step = next(failing.get_children())
    with pytest.raises(ActivityFailedException, match=r"cannot score a\.txt"):
        step.wait_for_completion(show_output=False)
    assert step.status == "Failed"
    out = capsys.readouterr().out
    assert f"StepRunId: {step.id}" in out

    assert (
        Run.get(ws, failing.id).wait_for_completion(raise_on_error=False) == "Failed"
    )  # a PipelineRun, as in Azure ML
    generic = Run(failing.experiment, failing.id)  # the base class's wait: details, not a status
    with pytest.raises(ActivityFailedException, match="allowed_failed_count"):
        generic.wait_for_completion()
    details = generic.wait_for_completion(show_output=True, raise_on_error=False)
    assert details["status"] == "Failed" and details["runId"] == failing.id
    out = capsys.readouterr().out
    assert f"RunId: {failing.id}" in out and "Execution Summary" in out and "Error:" in out


def test_wait_for_deployment_returns_at_the_end(
    ws: Workspace, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    service = slow_service(ws, tmp_path, f"slow-{unique}", seconds=2)
    requests = RequestLog(ws)
    service.wait_for_deployment(show_output=True)
    assert service.state == "Healthy"
    # A dot every 5 s while Transitioning, as Azure ML prints them: the 2 s init() needs the first read and one or
    # two long polls, where polling every 0.5 s made four or more reads.
    assert requests.to(f"services/{service.name}") <= 3
    assert [url.params["wait"] for url in requests.waits] in (["Transitioning"], ["Transitioning"] * 2)
    out = capsys.readouterr().out
    assert out.startswith("Tips: You can try get_logs()")
    assert "Running" in out and "\nSucceeded\n" in out
    assert 'ACI service creation operation finished, operation "Succeeded"' in out

    local = slow_service(ws, tmp_path, f"local-{unique}", 0.1, LocalWebservice.deploy_configuration())
    local.wait_for_deployment()
    assert f"Local webservice is Healthy at {ws.config.endpoint}" in capsys.readouterr().out


def test_wait_for_deployment_times_out_and_fails_as_azure_mls_does(ws: Workspace, tmp_path: Path, unique: str) -> None:
    service = slow_service(ws, tmp_path, f"slower-{unique}", seconds=6)
    with pytest.raises(WebserviceException, match=r"Deployment polling exceeded timeout override of 0\.5s"):
        service.wait_for_deployment(timeout_sec=0.5)
    assert service.state == "Transitioning"
    service.wait_for_deployment()
    assert service.state == "Healthy"

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "score.py").write_text(
        "def init():\n    raise RuntimeError('no model here')\n\n\ndef run(x):\n    pass\n"
    )
    inference = InferenceConfig(entry_script="score.py", source_directory=broken)
    failed = Model.deploy(ws, f"broken-{unique}", [], inference, AciWebservice.deploy_configuration())
    with pytest.raises(WebserviceException, match=r"(?s)non-successful terminal state.*Failed.*no model here"):
        failed.wait_for_deployment()
    assert failed.state == "Failed"


@pytest.mark.timeout(40)  # without the change noticed, the 60 s long poll would outlast the test
def test_a_long_poll_answers_when_another_process_changes_the_record(
    ws: Workspace, app_host: RunningHost, storage: Storage, tmp_path: Path, unique: str
) -> None:
    service = slow_service(ws, tmp_path, f"watched-{unique}", 0.1)
    service.wait_for_deployment()
    headers = {"Authorization": f"Bearer {ws.config.admin_key}"}
    url = f"{ws.config.api_url}/services/{service.name}"
    first = httpx.get(url, headers=headers)
    etag = first.headers["etag"]
    answers: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: answers.append(httpx.get(url, headers=headers, params={"wait": etag, "timeout": 60}, timeout=90))
    )
    waiting.start()
    # Written from this process, not the host's: the host's instance hears of it only by asking storage.
    service_records.update_service(storage, service.name, lambda r: r["deployment"].update(description="changed"))
    waiting.join()
    answer = answers[0]
    assert answer.status_code == 200 and answer.headers["etag"] != etag
    assert answer.json()["deployment"]["description"] == "changed"


def test_the_wait_parameter_is_checked(ws: Workspace, tmp_path: Path, unique: str) -> None:
    service = slow_service(ws, tmp_path, f"checked-{unique}", 0.1)
    service.wait_for_deployment()
    headers = {"Authorization": f"Bearer {ws.config.admin_key}"}
    url = f"{ws.config.api_url}/services/{service.name}"
    for params in ({"wait": "Healthy", "timeout": "61"}, {"wait": "Healthy", "timeout": "soon"}, {"wait": " "}):
        answer = httpx.get(url, headers=headers, params=params)
        assert answer.status_code == 400, params
        assert answer.json()["error"]["code"] == "invalid_input"
    # Nothing to wait for: a status it is not in, or an ETag it does not have, answers at once.
    assert httpx.get(url, headers=headers, params={"wait": "Transitioning"}).json()["state"] == "Healthy"
    same = httpx.get(url, headers=headers, params={"wait": '"0"'})
    assert same.status_code == 200 and json.loads(same.content)["name"] == service.name
    # The bound passes with nothing new: the same document and ETag.
    bounded = httpx.get(url, headers=headers, params={"wait": same.headers["etag"], "timeout": "0.2"})
    assert bounded.headers["etag"] == same.headers["etag"]
    assert httpx.get(url, params={"wait": "Healthy"}).status_code == 401
    missing = httpx.get(f"{ws.config.api_url}/pipelines/runs/nope", headers=headers, params={"wait": "Running"})
    assert missing.status_code == 404
