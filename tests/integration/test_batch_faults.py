"""Storage failing at each point of a batch run's write sequence, one point per trial: every write the run makes,
from planning to the fan-in's last append, is refused (storage down), or lands with its answer lost (the caller
sees a failure), or lands with its answer lost once (the SDK's next try meets the first one's effect). Each trial
must end Finished with every row exactly once, in order, within its bound: no state in which work is recorded done
while its results are not in storage, and no run left waiting.

The run is driven in-process (tests/batching.py) on storage of its own (`lone_azurite`: no host listens to it), with
a Storage whose requests go through tests/faults.py; a failed invocation is dropped with its message, as a crashed
instance's would be, and the work comes back through its lease and the sweeper (leases of 1 s here).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fninfer_host.azurite import Azurite
from shared.core import clock, layout
from shared.core.settings import WATCHDOG_SETTING
from shared.core.storage import Storage
from shared.pipelines.batch import planning, sweeper, watchdog
from shared.pipelines.engine import dag
from shared.runs import lanes, run_records, work_leases
from tests.batching import (
    HANDLERS,
    Timeline,
    definition,
    launch,
    names,
    output_lines,
    put_inputs,
    receive,
)
from tests.faults import FAST_RETRY, Mode, Point, StorageFaults
from tests.hosting import eventually

pytestmark = pytest.mark.slow

FILES = 8
EXPECTED = [f"f{i:03d}.txt: ok t1" for i in range(FILES)]
#: A trial that has not ended by then is counted as hung (a healthy trial takes one or two seconds).
TRIAL_SECONDS = 45.0


@pytest.fixture
def clean(lone_azurite: Azurite) -> Storage:
    return Storage.from_connection_string(lone_azurite.connection_string)


@pytest.fixture
def pipeline(clean: Storage) -> dict[str, Any]:
    """The one-step pipeline each trial of a test runs: its inputs and snapshot uploaded once, on healthy storage."""
    folder = put_inputs(clean, names(FILES))
    return definition(clean, folder, mini_batch_size=1, process_count_per_node=2, run_invocation_timeout=5)


@pytest.fixture
def faults(clean: Storage, lone_azurite: Azurite) -> StorageFaults:
    def forget(url: str) -> None:
        container, _, path = url.split(f"/{lone_azurite.account}/", 1)[1].partition("/")
        clean.delete_blob(container, path)

    return StorageFaults(forget)


@pytest.fixture
def faulty(lone_azurite: Azurite, faults: StorageFaults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Storage:
    monkeypatch.setenv("FNINFER_SNAPSHOT_CACHE", str(tmp_path / "snapshots"))
    monkeypatch.setenv(work_leases.LEASE_SETTING, "1")
    monkeypatch.setenv(WATCHDOG_SETTING, "3")  # with run_invocation_timeout=5: a run stalls after 8 s
    monkeypatch.setattr(work_leases, "QUEUED_LEASES", 2)
    monkeypatch.setattr(dag, "WATCH_SECONDS", 1)
    return Storage.from_connection_string(lone_azurite.connection_string, faults=faults, retry=FAST_RETRY)


@pytest.fixture
def timeline(monkeypatch: pytest.MonkeyPatch) -> Timeline:
    return Timeline(monkeypatch)


#: How long settle waits when it found nothing to deliver, and how far the app's clock moves meanwhile: five times
#: the wall's pace, so a 1 s queue delay (Azurite's, in real time) stays shorter than a run's stall time (8 s here).
#: Each idle round asks every queue and the sweeper again, so a longer wait is fewer requests for the same progress.
IDLE_WAIT = 0.2
IDLE_STEP = 5 * IDLE_WAIT


def settle(storage: Storage, clean: Storage, run_id: str, timeline: Timeline | None = None) -> dict[str, object] | None:
    """Deliver messages and sweep until the step run and its pipeline run are over; None when they are not within
    TRIAL_SECONDS. Whatever an invocation raises ends that invocation, as on a host. With a timeline, the app's clock
    moves on while nothing is delivered (leases expire and stalls show without waiting for them)."""
    deadline = time.monotonic() + TRIAL_SECONDS
    while time.monotonic() < deadline:
        delivered = 0
        for queue, handler in HANDLERS.items():
            for body in receive(clean, queue):
                delivered += 1
                with contextlib.suppress(Exception):
                    handler(storage, body)
        step = run_records.get_run(clean, run_id)
        over = step["status"] in ("Finished", "Failed", "Canceled")
        if over and run_records.get_run(clean, step["parent"])["status"] != "Running":
            return step
        if not delivered:
            with contextlib.suppress(Exception):
                sweeper.sweep(storage)  # the timer's alone, as on a host: every active run, and the watchdog
            if timeline is not None:
                timeline.advance(IDLE_STEP)
            time.sleep(IDLE_WAIT)
    return None


@dataclass
class Tally:
    trials: int = 0
    rows: int = 0
    lost: int = 0
    doubled: int = 0
    hung: int = 0
    unfired: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def record(
        self,
        point: Point,
        mode: Mode,
        clean: Storage,
        step: dict[str, object] | None,
        fired: bool,
        checked_only: bool = False,
    ) -> None:
        """The trial's outcome; `checked_only` for a run whose fault never fired and that runs again: its failures
        count, not the run itself."""
        self.trials += not checked_only
        where = f"{mode} at {point[0]} #{point[1]}" + (" (not met, run again)" if checked_only else "")
        if not fired and not checked_only:
            self.unfired.append(where)
        if step is None:
            self.hung += 1
            self.failures.append(f"{where}: hung")
            return
        if step["status"] != "Finished":
            self.failures.append(f"{where}: {step['status']} {step.get('error')}")
            return
        lines = output_lines(clean, step)
        self.rows += len(lines)
        self.lost += len(set(EXPECTED) - set(lines))
        self.doubled += len(lines) - len(set(lines))
        if lines != EXPECTED:
            self.failures.append(f"{where}: rows {lines}")

    def summary(self) -> str:
        return (
            f"{self.trials} trials, {self.rows} rows checked, {self.lost} lost, {self.doubled} doubled, "
            f"{self.hung} hung, {len(self.failures)} failed, {len(self.unfired)} never fired {self.unfired}"
        )


def submit(clean: Storage, pipeline: dict[str, Any]) -> str:
    """A run submitted (its planning queued) on healthy storage; the faults are in its run."""
    return launch(clean, copy.deepcopy(pipeline))


@pytest.fixture
def points(faulty: Storage, clean: Storage, faults: StorageFaults, pipeline: dict[str, Any]) -> list[Point]:
    """The writes of a run without faults, in order (in real time: no lease runs out in a healthy run): those of the
    second run that the third makes too. The first makes what a Storage makes once (queues, containers, the
    experiment), writes the trials' runs would never make again; and a write only one of two healthy runs makes
    (a heartbeat's or the sweeper's, whose count depends on timing) is one a trial's run may not make either, so a
    fault armed there would never fire."""
    runs: list[list[Point]] = []
    for _ in range(3):
        run_id = submit(clean, pipeline)
        faults.arm(("none", 0), "refused")
        step = settle(faulty, clean, run_id)
        assert step is not None and output_lines(clean, step) == EXPECTED
        runs.append(faults.points())
    again = set(runs[2])
    written = [point for point in runs[1] if point in again]
    assert len(written) > 30, written  # planning, lanes, chunks, the fan-in, the pipeline run's end
    return written


#: Trials of one test whose fault may never fire, tried twice (a trial that tested nothing): a heartbeat's timing can
#: move a lease write to another occurrence of its kind than in the run the points were read from.
UNFIRED_ALLOWED = 2


@pytest.fixture
def trials(
    faulty: Storage, clean: Storage, faults: StorageFaults, timeline: Timeline, pipeline: dict[str, Any]
) -> Callable[[list[Point], Mode], None]:
    """Runs a trial per point with a mode armed there; each must end Finished with every row once. A run the fault
    never met tested nothing (its writes fell otherwise than in the run the points were read from): it runs once
    more, and counts as unfired only if the second misses too; the first's outcome is still checked, as a healthy
    run's."""

    def run_trials(at: list[Point], mode: Mode) -> None:
        tally = Tally()
        for point in at:
            for attempt in range(2):
                run_id = submit(clean, pipeline)
                faults.arm(point, mode)
                step = settle(faulty, clean, run_id, timeline)
                if faults.fired or attempt == 1:
                    tally.record(point, mode, clean, step, faults.fired)
                    break
                tally.record(point, mode, clean, step, faults.fired, checked_only=True)
        print(f"\n{mode}: {tally.summary()}")
        assert not tally.failures, f"{tally.summary()}:\n" + "\n".join(tally.failures)
        assert len(tally.unfired) <= UNFIRED_ALLOWED, tally.summary()

    return run_trials


#: Each kind of trial runs as this many tests, each over every SHARDS-th write point, so the trials of one kind
#: can run on several pytest-xdist workers at once.
SHARDS = 2


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("mode", ["refused", "lost", "lost_once"])
def test_a_failure_at_any_write_leaves_every_row_once(
    mode: Mode, shard: int, points: list[Point], trials: Callable[[list[Point], Mode], None]
) -> None:
    trials(points[shard::SHARDS], mode)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_storage_forgetting_a_record_it_acknowledged_leaves_every_row_once(
    shard: int, points: list[Point], trials: Callable[[list[Point], Mode], None]
) -> None:
    """Each blob the run writes to its records (lanes, chunks, leases, plan pages, markers), forgotten by storage a
    few requests after it answered: the lost work runs again or the lost record is made again (the watchdog
    restarts what nothing else moves on), and the run finishes with every row once."""
    records = [point for point in points if point[0].startswith("PUT fninfer-runs")]
    trials(records[shard::SHARDS], "forgotten")


# -- the watchdog ---------------------------------------------------------------------------------------------------


def test_a_lane_held_without_progress_is_taken_back_and_the_run_finishes(
    faulty: Storage, clean: Storage, monkeypatch: pytest.MonkeyPatch, pipeline: dict[str, Any]
) -> None:
    """A holder that keeps its lane's hold alive and runs nothing (a wedged instance): the lease never runs out, so
    only the watchdog sees it; it takes the lane back, with a warning on the run, and the run finishes."""
    # 3 s leases, renewed every second: a heartbeat up to 2 s late on a loaded machine still holds the lane, so the
    # sweeper never takes it (that would be a lease running out, not the watchdog's work).
    monkeypatch.setenv(work_leases.LEASE_SETTING, "3")
    run_id = submit(clean, pipeline)
    planning.plan(clean, run_id, "planner")
    run = run_records.get_run(clean, run_id)
    wedged = lanes.claim(clean, run, 1, "wedged-instance")
    assert isinstance(wedged, lanes.Lane)
    with wedged.held():  # renewed for as long as the test lasts
        step = settle(faulty, clean, run_id)
    assert step is not None and step["status"] == "Finished"
    assert output_lines(clean, step) == EXPECTED
    [warning] = step["warnings"]
    assert warning["kind"] == "stalled" and "lane 1 at mini-batch 1 (held by wedged-instance" in warning["message"]


def examine_while_the_holder_renews(
    clean: Storage, monkeypatch: pytest.MonkeyPatch, run_id: str, renew: Callable[[], None]
) -> str | None:
    """The watchdog's verdict on a stalled run whose wedged holder renews its hold (a new etag) between the
    watchdog's look and its repair, as it does every third of a lease."""
    warn = watchdog.warn

    def warn_while_the_holder_renews(*args: Any) -> int:
        renew()
        return warn(*args)

    monkeypatch.setattr(watchdog, "warn", warn_while_the_holder_renews)
    monkeypatch.setattr(watchdog, "stall_seconds", lambda run: 0.0)
    assert watchdog.examine(clean, run_records.get_run(clean, run_id)) is None  # the first look remembers progress
    try:
        return watchdog.examine(clean, run_records.get_run(clean, run_id))
    finally:
        watchdog.forget(run_id)


def test_the_watchdog_takes_a_lane_back_from_a_holder_that_renewed_since_it_looked(
    clean: Storage, monkeypatch: pytest.MonkeyPatch, pipeline: dict[str, Any]
) -> None:
    """The repair still takes the lane back, rather than losing to the renewal (and dispatching the fan-in while
    the lane's work is not done)."""
    run_id = submit(clean, pipeline)
    planning.plan(clean, run_id, "planner")
    wedged = lanes.claim(clean, run_records.get_run(clean, run_id), 1, "wedged-instance")
    assert isinstance(wedged, lanes.Lane)

    def renew() -> None:
        wedged.written_at = 0.0  # due: the next beat writes the record
        assert wedged.beat()

    done = examine_while_the_holder_renews(clean, monkeypatch, run_id, renew)
    assert done is not None and "lane 1 re-dispatched" in done, done
    wedged.written_at = 0.0
    assert not wedged.beat()  # the holder finds its lane taken
    assert watchdog.FANIN_ITEM not in work_leases.records(clean, run_id)


def test_the_watchdog_takes_planning_back_from_a_holder_that_renewed_since_it_looked(
    clean: Storage, monkeypatch: pytest.MonkeyPatch, pipeline: dict[str, Any]
) -> None:
    """The same for a work item (here planning; a script's and a fan-in's are taken back the same way)."""
    run_id = submit(clean, pipeline)
    assert work_leases.claim(clean, run_id, planning.PLAN_ITEM, "wedged-instance") is not None

    def renew() -> None:
        work_leases.update(clean, run_id, planning.PLAN_ITEM, "wedged-instance")

    assert examine_while_the_holder_renews(clean, monkeypatch, run_id, renew) == f"re-dispatched {planning.PLAN_ITEM}"
    with pytest.raises(work_leases.LeaseLost):
        work_leases.update(clean, run_id, planning.PLAN_ITEM, "wedged-instance")


def test_work_that_never_gets_done_fails_the_run_saying_what_was_stuck(
    faulty: Storage, clean: Storage, monkeypatch: pytest.MonkeyPatch, timeline: Timeline, pipeline: dict[str, Any]
) -> None:
    """Planning that dies every time it is tried: each restart is a warning, and after the last the run fails
    naming what never got done; the pipeline run fails with it. Bounded: a few stall times, not forever."""

    def crash(storage: Storage, run_id: str, owner: str, take: int = 0) -> list[lanes.Lane]:
        work_leases.claim(storage, run_id, planning.PLAN_ITEM, owner)  # taken, and never finished
        raise RuntimeError("the instance planning the run died")

    monkeypatch.setitem(HANDLERS, layout.PLANNING_QUEUE, lambda s, m: crash(s, m["run"], "planner"))
    run_id = submit(clean, pipeline)
    started = clock.monotonic()
    step = settle(faulty, clean, run_id, timeline)
    assert step is not None and step["status"] == "Failed", step
    assert clock.monotonic() - started < (watchdog.MAX_RESTARTS + 2) * 8 + 10  # stall time: 5 + 3 s
    message = step["error"]["message"]
    assert message.startswith("no progress for 8 s after 2 restarts of what was stuck: planning is"), message
    assert [w["kind"] for w in step["warnings"]] == ["stalled", "stalled"]
    assert run_records.get_run(clean, step["parent"])["status"] == "Failed"


def test_a_pipeline_run_left_running_after_its_steps_ended_is_advanced(
    faulty: Storage, clean: Storage, timeline: Timeline, pipeline: dict[str, Any]
) -> None:
    """The advance after the last step's end, and the pipeline run's watch, both lost (as storage that forgot them
    would leave it): no step is running to watch, so the watchdog advances the pipeline run itself."""
    step = settle(faulty, clean, submit(clean, pipeline))
    assert step is not None and step["status"] == "Finished"
    parent = step["parent"]

    def forgotten(record: dict[str, object]) -> None:
        record.update(status="Running", end_time=None)

    clean.update_json(layout.REGISTRY_CONTAINER, layout.pipeline_run_record(parent), forgotten)
    clean.put_json(layout.RUNS_CONTAINER, layout.active_run_marker(parent), {"run": parent})
    work_leases.release(clean, parent, dag.WATCH_ITEM)

    def finished() -> bool:
        sweeper.sweep(faulty)
        timeline.advance(IDLE_STEP)
        return run_records.get_run(clean, parent)["status"] == "Finished"

    eventually(finished, timeout=30)
    assert [w["kind"] for w in run_records.get_run(clean, parent)["warnings"]] == ["stalled"]
