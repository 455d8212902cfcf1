"""Storage failing under batch runs on a real two-instance host: unreachable for 1, 2, 5 and 10 s at random points,
answering 503 to a fifth of the requests for a while, killed (`kill -9`) and restarted on its data, and keeping none
of one lane's writes. Runs over files and over a tabular dataset, through the SDK, as a user submits them.

Every trial ends within its bound: Finished with every row exactly once, in input order; or, where storage keeps
none of what it acknowledged (a permanent loss), Failed with a message that says what was lost. The schedule of
outages comes from a seeded random generator (FNINFER_CHAOS_SEED, printed), so a failing trial reproduces. The host
runs with 3 s leases and a 20 s watchdog margin so that recovery takes seconds; storage reaches it through
tests/fault_proxy.py, one proxy per service.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fninfer.core import Experiment, Workspace
from fninfer.pipeline.core import Pipeline, PipelineRun
from fninfer_host.azurite import Azurite, start_azurite
from shared.core import layout
from shared.core.errors import FninferError
from tests.batching import ROOT, output_rows, pipeline_for, tabular_pipeline_for
from tests.fault_proxy import FaultProxy, connection_string
from tests.hosting import RunningHost, run_host

# One worker runs the trials one after another on one module fixture (an Azurite on disk, a two-instance host, two
# proxies): started once, not once per worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("batch-chaos")]

SEED = int(os.environ.get("FNINFER_CHAOS_SEED", "2026"))
#: A run not over by then counts as hung (a healthy one takes a few seconds; recovery from a 10 s outage, a few more).
RUN_BOUND_SECONDS = 180.0
FILES = 40
ROWS = 400
LANES = 4  # node_count 2 x process_count_per_node 2


@dataclass
class Chaos:
    azurite: Azurite
    data: Path
    blob: FaultProxy
    queue: FaultProxy
    host: RunningHost = field(init=False)
    ws: Workspace = field(init=False)

    def down(self, seconds: float) -> None:
        self.blob.down(seconds)
        self.queue.down(seconds)

    def restart_azurite(self, after: float) -> None:
        """kill -9 storage, and start it again on its data `after` seconds later (on new ports)."""
        os.killpg(self.azurite.process.pid, signal.SIGKILL)
        self.azurite.process.wait()
        time.sleep(after)
        self.azurite = start_azurite(ROOT, data_dir=self.data)
        self.blob.retarget(self.azurite.blob_port)
        self.queue.retarget(self.azurite.queue_port)


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    print(f"\nchaos seed: FNINFER_CHAOS_SEED={SEED}")
    root = tmp_path_factory.mktemp("chaos")
    data = root / "azurite"
    azurite = start_azurite(ROOT, data_dir=data)
    blob, queue = FaultProxy(azurite.blob_port, SEED).start(), FaultProxy(azurite.queue_port, SEED + 1).start()
    state = Chaos(azurite, data, blob, queue)
    env = {
        "FNINFER_MODEL_CACHE": str(root / "models"),
        "FNINFER_SNAPSHOT_CACHE": str(root / "snapshots"),
        "FNINFER_BATCH_LEASE_SECONDS": "3",
        "FNINFER_RUN_WATCHDOG_SECONDS": "20",
    }
    storage = connection_string(azurite.connection_string, blob, queue)
    try:
        with run_host(ROOT, root / "host", storage=storage, instances=2, env=env) as host:
            state.host, state.ws = host, Workspace.from_config(host.config_path)
            yield state
    finally:
        blob.stop()
        queue.stop()
        state.azurite.stop()  # the one running now: a trial may have restarted it


def files_run(chaos: Chaos, folder: Path, pause: float = 1) -> tuple[Pipeline, list[str]]:
    """FILES files scored in `pause` seconds of run() per lane, in all."""
    folder.mkdir(parents=True)
    contents = {f"{i:02d}.txt": f"sleep {pause * LANES / FILES}" for i in range(FILES)}
    pipeline = pipeline_for(chaos.ws, folder, contents, mini_batch_size="1", node_count=2, run_invocation_timeout=10)
    return pipeline, [f"{i:02d}.txt: ok host" for i in range(FILES)]


def tabular_run(chaos: Chaos, folder: Path, pause: float = 1) -> tuple[Pipeline, list[str]]:
    """ROWS rows in ~40 mini-batches, scored in `pause` seconds of run() per lane, in all."""
    folder.mkdir(parents=True)
    pipeline = tabular_pipeline_for(
        chaos.ws,
        folder,
        rows=ROWS,
        pause=pause * LANES / ROWS,
        mini_batch_size="100",
        node_count=2,
        run_invocation_timeout=10,
    )
    return pipeline, [f"{i} ok host" for i in range(ROWS)]


def status_within(run: PipelineRun, seconds: float) -> str | None:
    """The run's status once it is over, asked as a user would (storage may be failing: ask again); None if it is
    not over within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status = run.get_status()
        except FninferError:  # the app answered 503: storage is down
            status = None
        if status in ("Finished", "Failed", "Canceled"):
            return status
        time.sleep(0.5)
    return None


@dataclass
class Trial:
    name: str
    run: PipelineRun
    expected: list[str]


def submit_both(chaos: Chaos, tmp_path: Path, label: str, pause: float = 1) -> list[Trial]:
    """A run over files and one over a tabular dataset, submitted together (each outage hits both)."""
    trials = []
    for kind, build in (("files", files_run), ("tabular", tabular_run)):
        pipeline, expected = build(chaos, tmp_path / f"{label}-{kind}", pause)
        run = Experiment(chaos.ws, "chaos").submit(pipeline)
        trials.append(Trial(f"{label} {kind}", run, expected))
    return trials


def check(trials: list[Trial], tmp_path: Path) -> tuple[int, list[str]]:
    """(rows checked, what went wrong)"""
    rows, wrong = 0, []
    for trial in trials:
        status = status_within(trial.run, RUN_BOUND_SECONDS)
        if status != "Finished":
            wrong.append(f"{trial.name}: {status or 'hung'} {trial.run.get_details().get('error')}")
            continue
        lines = output_rows(trial.run, tmp_path / trial.run.id)
        rows += len(lines)
        lost, doubled = len(set(trial.expected) - set(lines)), len(lines) - len(set(lines))
        if lines != trial.expected:
            wrong.append(f"{trial.name}: {lost} rows lost, {doubled} doubled, order {'kept' if not lost else '?'}")
    return rows, wrong


# One test per outage length (each its own seeded points), so that they can run on several pytest-xdist workers.
@pytest.mark.parametrize("seconds", [1, 2, 5, 10])
def test_storage_unreachable_at_random_points(chaos: Chaos, tmp_path: Path, seconds: int) -> None:
    schedule = random.Random(SEED + seconds)
    total_rows, wrong, trials = 0, [], 0
    for round_ in range(2):
        label = f"{seconds}s-{round_}"
        started = submit_both(chaos, tmp_path, label)
        time.sleep(schedule.uniform(0.5, 4.0))  # somewhere in planning, the lanes or the fan-in
        chaos.down(seconds)
        rows, problems = check(started, tmp_path)
        total_rows, trials = total_rows + rows, trials + len(started)
        wrong += [f"down {label}: {problem}" for problem in problems]
    print(f"\nunreachable for {seconds} s: {trials} trials, {total_rows} rows checked, {len(wrong)} wrong")
    assert not wrong, "\n".join(wrong)


def test_storage_answering_503_to_a_fifth_of_requests(chaos: Chaos, tmp_path: Path) -> None:
    started = submit_both(chaos, tmp_path, "503")
    chaos.blob.errors(0.2, seconds=15)
    chaos.queue.errors(0.2, seconds=15)
    rows, wrong = check(started, tmp_path)
    print(f"\n503s: {len(started)} trials, {rows} rows checked, {chaos.blob.injected + chaos.queue.injected} injected")
    assert chaos.blob.injected > 10
    assert not wrong, "\n".join(wrong)


#: Azurite writes what it acknowledged to its files every 5 s (its LokiJS autosave), and forgets the rest when
#: killed. A run is killed once its own record is on disk: storage that forgets a submission has no run to finish.
AZURITE_SAVES_EVERY = 5.0


@pytest.mark.parametrize("down", [2, 5])
def test_storage_killed_and_restarted_on_its_data(chaos: Chaos, tmp_path: Path, down: float) -> None:
    """What the issue saw: Azurite killed mid-run (and restarted `down` s later on its data) forgets its last seconds
    of acknowledged writes: records, chunks, appends, queue messages."""
    started = submit_both(chaos, tmp_path, f"kill-{down}", pause=4)
    time.sleep(AZURITE_SAVES_EVERY + 1 + random.Random(SEED + down).uniform(0.0, 3.0))
    chaos.restart_azurite(after=down)
    rows, wrong = check(started, tmp_path)
    print(f"\nkilled for {down} s: {len(started)} trials, {rows} rows checked")
    assert not wrong, "\n".join(wrong)


def test_storage_that_never_keeps_a_lanes_results_fails_the_run_saying_so(chaos: Chaos, tmp_path: Path) -> None:
    pipeline, _ = files_run(chaos, tmp_path / "lost")
    chaos.blob.swallow(
        layout.lane_prefix("run", 1).removeprefix("run") + "/"
    )  # lane 1's chunks: acknowledged, never kept
    try:
        run = Experiment(chaos.ws, "chaos").submit(pipeline)
        assert status_within(run, RUN_BOUND_SECONDS) == "Failed"
    finally:
        chaos.blob.swallow(None)
    step = next(run.get_children())
    message = step.get_details()["error"]["message"]
    assert "lane 1" in message and "lost from storage" in message, message
    assert "storage does not keep what it acknowledged" in message
    assert len(step.get_details()["warnings"]) >= 3  # each repair tried first is on the run
    report = step.get_details_with_logs()["logFiles"]["logs/job_error.txt"]
    assert "then lost from storage" in report and "storage does not keep what it acknowledged" in report
