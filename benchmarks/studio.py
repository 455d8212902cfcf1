"""How fast the studio's pages answer in a workspace of 1,000 pipeline runs and 100 services, beside the JSON API's
lists of the same (every record read).

    .venv/bin/python benchmarks/studio.py [--runs 1000] [--services 100] [--requests 20]

On `fninfer start` with an Azurite of its own, the workspace is written through the domain's own functions (run
records and their index entries, two step runs per pipeline run, service records, a model, an hour of calls to every
service from one instance), then each page is asked for --requests times over loopback (signed in with the admin
key). Printed per page: the median and 95th percentile in ms, and for the lists the API's equivalent and the ratio.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fninfer.core import Model, Workspace  # noqa: E402
from fninfer_host.testing import run_host  # noqa: E402
from shared.core.storage import Storage  # noqa: E402
from shared.runs import run_records  # noqa: E402
from shared.services import service_records  # noqa: E402
from shared.services.auth import new_nonces  # noqa: E402
from shared.services.metrics import CallMetrics  # noqa: E402

STATUSES = ["Finished"] * 8 + ["Failed", "Canceled"]


def pipeline_records(number: int, now: datetime) -> list[dict[str, Any]]:
    """A two-step pipeline run (prepare -> score) and its step runs; the newest ten are still running."""
    run_id = uuid.uuid4().hex
    created = now - timedelta(minutes=number)
    status = "Running" if number < 10 else STATUSES[number % len(STATUSES)]
    end = None if status == "Running" else (created + timedelta(minutes=3)).isoformat()
    steps = {
        name: {"id": uuid.uuid4().hex, "type": kind}
        for name, kind in (("prepare", "PythonScriptStep"), ("score", "ParallelRunStep"))
    }
    graph = {
        "steps": [
            {"name": "prepare", "type": "PythonScriptStep", "depends_on": []},
            {"name": "score", "type": "ParallelRunStep", "depends_on": ["prepare"]},
        ]
    }
    pipeline = {
        "id": run_id,
        "experiment": f"experiment-{number % 7}",
        "tags": {},
        "created_time": created.isoformat(),
        "start_time": (created + timedelta(seconds=2)).isoformat(),
        "end_time": end,
        "status": status,
        "error": {"message": "step 'score' failed"} if status == "Failed" else None,
        "definition": {"parameters": {}, "steps": []},
        "parameters": {},
        "graph": graph,
        "steps": steps,
    }
    found = [pipeline]
    for name, state in steps.items():
        step = {"name": name, "type": state["type"], "reused_from": None}
        if state["type"] == "ParallelRunStep":
            step["output"] = {
                "name": "scores",
                "datastore": "workspaceblobstore",
                "container": "fninfer-datastore",
                "prefix": f"azureml/{state['id']}/scores/",
            }
        else:
            step["outputs"] = []
        found.append(
            {
                "id": state["id"],
                "parent": run_id,
                "name": name,
                "type": state["type"],
                "experiment": pipeline["experiment"],
                "tags": {},
                "created_time": pipeline["created_time"],
                "start_time": pipeline["start_time"],
                "end_time": end,
                "status": status,
                "error": None,
                "step": step,
                "plan": {"total_batches": 100, "total_items": 1000, "cap": 10}
                if state["type"] == "ParallelRunStep"
                else None,
                "counts": {"batches_done": 100, "batches_failed": 0, "items_failed": 0}
                if end
                else {"batches_done": 40, "batches_failed": 1, "items_failed": 3},
            }
        )
    return found


def service_record(number: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    code = {"snapshot": {"id": "0" * 64, "files": []}, "entry_script": "score.py", "requirements": []}
    return {
        "name": f"service-{number:03d}",
        "state": "Healthy",
        "error": None,
        "models": ["bench-model:1"],
        **code,
        "environment_name": None,
        "deployment": {"compute_type": "ACI", "auth": "key"},
        "compute_target": None,
        "auth": {"mode": "key", "nonces": new_nonces(), "chosen": {}},
        "code_version": 1,
        "serving": {"code_version": 1, "models": ["bench-model:1"], **code},
        "created_time": now,
        "updated_time": now,
    }


def write_workspace(storage: Storage, runs_count: int, services: int) -> list[str]:
    """The workspace; returns the pipeline run ids, newest first."""
    now = datetime.now(UTC)
    created = [pipeline_records(number, now) for number in range(runs_count)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(
            pool.map(lambda record: run_records.create_run(storage, record), [r for family in created for r in family])
        )
        list(
            pool.map(
                lambda n: service_records.create_service(storage, service_record(n), overwrite=False), range(services)
            )
        )
    clock_now = time.time()
    calls = CallMetrics(storage, "bench-instance", clock=lambda: clock_now)
    for minute in range(60):
        moment = clock_now - 60 * (60 - minute)
        for number in range(services):
            for index in range(5):
                status = 500 if index == 4 and number % 10 == 0 else 200
                calls._arrived.append((f"service-{number:03d}", moment, 0.002 * (index + 1), status, uuid.uuid4().hex))
    calls.flush()
    return [family[0]["id"] for family in created]


def timed(client: httpx.Client, path: str, count: int) -> list[float]:
    answer = client.get(path)  # warm: templates compiled, caches filled, as on a page already visited
    if answer.status_code != 200:
        raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
    found = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.get(path)
        found.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return found


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fninfer-studio-bench-"))
    with run_host(ROOT, work / "host") as host:
        ws = Workspace.from_config(host.config_path)
        (work / "model.txt").write_text("a model")
        Model.register(ws, model_path=str(work / "model.txt"), model_name="bench-model")
        storage = Storage.from_connection_string(host.config.storage)
        started = time.perf_counter()
        run_ids = write_workspace(storage, args.runs, args.services)
        print(
            f"workspace: {args.runs} pipeline runs ({3 * args.runs} run records), {args.services} services, an hour "
            f"of calls to each; written in {time.perf_counter() - started:.0f} s"
        )
        headers = {"Authorization": f"Bearer {host.config.admin_key}"}
        with httpx.Client(base_url=host.base_url, headers=headers, timeout=120) as client:
            second_page = client.get("/api/studio/runs").text.split("marker=")[1].split('"')[0].replace("&amp;", "&")
            pages = {
                "overview": "/api/studio",
                "runs, first page": "/api/studio/runs",
                "runs, second page": f"/api/studio/runs?marker={second_page}",
                "runs that Failed": "/api/studio/runs?status=Failed",
                "a pipeline run": f"/api/studio/runs/{run_ids[0]}",
                "services": "/api/studio/services",
                "a service": "/api/studio/services/service-000",
                "models": "/api/studio/models",
            }
            baselines = {"runs, first page": "/api/pipelines/runs", "services": "/api/services"}
            print(f"ms over loopback, {args.requests} requests each after one to warm up; {len(run_ids)} runs")
            print(f"{'page':<20}{'median':>9}{'p95':>9}   {'API list of all (median)':>26}{'ratio':>8}")
            for name, path in pages.items():
                median, p95 = summary(timed(client, path, args.requests))
                line = f"{name:<20}{median:>9.0f}{p95:>9.0f}"
                if name in baselines:
                    base = summary(timed(client, baselines[name], max(3, args.requests // 4)))[0]
                    line += f"   {baselines[name]:>18} {base:>7.0f}{median / base:>8.2f}"
                print(line)


if __name__ == "__main__":
    main()
