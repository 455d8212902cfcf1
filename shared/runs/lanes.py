"""Lanes: how mini-batches are held, recorded and found again, with about one storage request per lane every few
seconds rather than several per mini-batch.

A run's mini-batches are dealt into `lanes = min(cap, total)` lanes: lane k holds mini-batches k, k + cap, k + 2 cap,
... (its positions 0, 1, 2, ...), which is also how many run at once (cap = node_count x process_count_per_node).
A lane runs in one invocation at a time, in order, and has two kinds of blobs:

    lanes/<k>.json            the lane's record: who holds it (metadata `owner`, `until`) and how many tries the
                              position `at` has used up (`tries`: instances that stopped while running it, failed
                              tries); written on claim, hand-off, a failed try, and as a heartbeat when nothing else
                              was written for LEASE/3
    lanes/<k>/<start>.json    a chunk: the results of positions start..end-1, created once (If-None-Match), with
                              metadata `end`, `until` and the chunk's own counts

Exactly once, in order: a holder writes a chunk at `start` only when the lane's chain ends at `start`. Chunk names
are unique, so two writers that both believe they hold the lane (a paused owner and its successor, a duplicated
message) cannot both record a position: the second one's create is refused, and it reads the first one's chunk,
drops what that chunk covers, and goes on after its end.

The lane's record of what ran is its chain: the chunk at 0, the chunk at that one's end, and so on. Positions are
recorded only on the chain, each in exactly one chunk, and the fan-in and the counts read the chain alone. A chunk off
the chain (one whose predecessor a storage failure lost after it was written: Azurite, killed, forgets its last
seconds of writes) records nothing: the chain ends before it, so the lane is not complete, its positions from the
chain's end run again, and a chunk written at the stranded one's start takes it onto the chain as it stands.

The holder keeps results in memory and writes them as one chunk once the oldest is LEASE/3 old, when they reach
FLUSH_BYTES, when a mini-batch has failures (thresholds count what is written), and when the lane stops. A chunk also
renews the hold (its `until`; the record is rewritten only when nothing else was for LEASE/3), so a busy lane writes
about one blob per LEASE/3 whatever the number of its mini-batches: that is the bookkeeping. An instance that dies
loses what it had not written yet; its successor runs those mini-batches again (run() is called at least once per
mini-batch, as on Azure ML; its rows are recorded once). After such a death the successor writes each mini-batch as
it completes, so a mini-batch that takes its instance down is pinned down and failed after run_max_try deaths
instead of repeating forever.

Liveness is the latest `until` of the record and the chunks, so a listing of `lanes/` (one request, metadata
included) tells the sweeper which lanes lost their holder, tells the fan-in whether every lane is complete, and
gives the run's progress counts.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypedDict

from shared.core import clock, layout
from shared.core.errors import ConcurrencyConflict, NotFound
from shared.core.storage import Storage
from shared.runs import work_leases
from shared.runs.run_records import CountFigures, Plan, RunRecord, plan_of

#: Results held in memory are written once they pass this size.
FLUSH_BYTES = 1024 * 1024


class Attempt(TypedDict):
    """One try of a mini-batch: what run() (or loading the entry script, or reading the input) raised, if anything."""

    error: str | None
    traceback: str | None
    log: str | None  # what it printed and logged


class Result(TypedDict):
    """A mini-batch's result (shared/pipelines/batch/minibatch.py writes it), kept in a chunk's `results`."""

    index: int  # the mini-batch's
    items: int  # files, or rows of a tabular input
    rows: list[str]  # what append_row writes for it
    failed_items: int
    batch_failed: bool
    tries: int
    attempts: list[Attempt]


class LaneRecord(TypedDict):
    """A lane's record (`layout.lane_record`); its holder, hold and tries are in the blob's metadata."""

    run: str
    lane: int
    queue: str  # the mini-batch queue, where its message goes


class Chunk(TypedDict):
    """A lane's results of positions start..end-1 (`layout.lane_chunk`), created once; its metadata has `end`,
    `until` and its counts too (a listing reads those)."""

    start: int
    end: int
    counts: CountFigures
    results: list[Result]


class MiniBatchMessage(TypedDict):
    """The mini-batch queue's message: the lane of mini-batch `index` is to run from there."""

    run: str
    index: int


def positions(total: int, cap: int, lane: int) -> int:
    """How many mini-batches lane `lane` holds."""
    return len(range(lane, total, cap))


def lane_count(plan: Plan) -> int:
    return min(int(plan["cap"]), int(plan["total_batches"]))


@dataclass(frozen=True)
class Counts:
    batches_done: int = 0
    batches_failed: int = 0
    items_failed: int = 0

    def to_dict(self) -> CountFigures:
        return {
            "batches_done": self.batches_done,
            "batches_failed": self.batches_failed,
            "items_failed": self.items_failed,
        }

    def metadata(self) -> dict[str, str]:
        return {
            "done": str(self.batches_done),
            "failed": str(self.batches_failed),
            "failed_items": str(self.items_failed),
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> Counts:
        return cls(int(metadata["done"]), int(metadata["failed"]), int(metadata["failed_items"]))

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.batches_done + other.batches_done,
            self.batches_failed + other.batches_failed,
            self.items_failed + other.items_failed,
        )

    @classmethod
    def of(cls, result: Result) -> Counts:
        return cls(1, int(bool(result["batch_failed"])), int(result["failed_items"]))


@dataclass
class LaneState:
    """One lane as a listing shows it."""

    lane: int
    etag: str | None = None  # the record's
    owner: str | None = None
    until: float = 0.0  # the latest of the record's and the chunks'
    at: int = -1  # the position whose tries the record counts
    tries: int = 0
    end: int = 0  # positions recorded: where the chain ends
    counts: Counts = field(default_factory=Counts)  # the chain's
    chunks: list[tuple[int, int]] = field(default_factory=list)  # the chain's (start, end), in order
    stranded: list[tuple[int, int]] = field(default_factory=list)  # chunks off the chain

    def alive(self) -> bool:
        return self.until > clock.time()


def survey(storage: Storage, run_id: str, lane: int | None = None) -> dict[int, LaneState]:
    """Every lane of the run (or one), from one listing."""
    prefix = layout.lanes_prefix(run_id) if lane is None else layout.lane_prefix(run_id, lane)
    states: dict[int, LaneState] = {}
    found: dict[int, dict[int, tuple[int, Counts]]] = {}  # lane -> start -> (end, counts)
    for listed in storage.list_with_metadata(layout.RUNS_CONTAINER, prefix):
        number, start = layout.lane_blob(run_id, listed.name)
        state = states.setdefault(number, LaneState(number))
        metadata = listed.metadata
        state.until = max(state.until, float(metadata.get("until", 0)))
        if start is None:  # the record
            state.etag, state.owner = listed.etag, metadata.get("owner") or None
            state.at, state.tries = int(metadata.get("at", -1)), int(metadata.get("tries", 0))
        else:
            found.setdefault(number, {})[start] = (int(metadata["end"]), Counts.from_metadata(metadata))
    for number, chunks in found.items():
        state = states[number]
        while state.end in chunks:  # the chain, from position 0
            end, counts = chunks.pop(state.end)
            state.chunks.append((state.end, end))
            state.end, state.counts = end, state.counts + counts
        state.stranded = sorted((start, end) for start, (end, _) in chunks.items())
    return states


def counts(storage: Storage, run_id: str) -> Counts:
    """What the run's lanes have recorded so far."""
    total = Counts()
    for state in survey(storage, run_id).values():
        total = total + state.counts
    return total


def complete(plan: Plan, states: dict[int, LaneState]) -> bool:
    cap, total = int(plan["cap"]), int(plan["total_batches"])
    return all(k in states and states[k].end >= positions(total, cap, k) for k in range(lane_count(plan)))


def _message(run_id: str, index: int) -> MiniBatchMessage:
    return {"run": run_id, "index": index}


def _record_metadata(owner: str | None, until: float, at: int, tries: int) -> dict[str, str]:
    return {"owner": owner or "", "until": f"{until:.3f}", "at": str(at), "tries": str(tries)}


def _record(run_id: str, lane: int) -> LaneRecord:
    return {"run": run_id, "lane": lane, "queue": layout.MINIBATCH_QUEUE}


def dispatch(storage: Storage, run: RunRecord, lane: int, owner: str | None = None) -> Lane | None:
    """Create the lane's record, unless it exists, and enqueue its message; with `owner`, take the lane at once
    instead (returned). A lane that exists already is left alone: it is held, queued, or the sweeper's."""
    until = clock.time() + (work_leases.lease_seconds() if owner else work_leases.queued_seconds())
    try:
        etag = storage.create_json(
            layout.RUNS_CONTAINER,
            layout.lane_record(run["id"], lane),
            _record(run["id"], lane),
            metadata=_record_metadata(owner, until, -1, 0),
        )
    except ConcurrencyConflict:
        return None
    if owner is None:
        work_leases.send(storage, layout.MINIBATCH_QUEUE, _message(run["id"], lane))
        return None
    return Lane(storage, run, lane, owner, etag, LaneState(lane))


def claim(storage: Storage, run: RunRecord, lane: int, owner: str) -> Lane | LaneState | None:
    """Take the lane for `owner`: the Lane, or the LaneState when the lane is complete already, or None when a live
    holder has it. Taking it from a holder whose hold ran out counts a try of the position it stopped at."""
    state = survey(storage, run["id"], lane).get(lane)
    plan = plan_of(run)
    if state is None or state.etag is None:
        return None  # not dispatched (yet): its dispatcher enqueues it
    if state.end >= positions(int(plan["total_batches"]), int(plan["cap"]), lane):
        return state
    if state.owner not in (None, owner) and state.alive():
        return None
    if state.owner not in (None, owner):  # its holder stopped while running the position after the chunks
        state.tries, state.at = _stopped_at(state)
    metadata = _record_metadata(owner, clock.time() + work_leases.lease_seconds(), state.at, state.tries)
    try:
        etag = storage.replace_json(
            layout.RUNS_CONTAINER, layout.lane_record(run["id"], lane), _record(run["id"], lane), state.etag, metadata
        )
    except (ConcurrencyConflict, NotFound):
        return None  # another claimant won
    return Lane(storage, run, lane, owner, etag, state)


def _stopped_at(state: LaneState) -> tuple[int, int]:
    """(tries, at) once the holder of `state` is found gone: one more try used up at the chain's end."""
    return (state.tries + 1 if state.at == state.end else 1), state.end


def redispatch(storage: Storage, run: RunRecord, state: LaneState) -> bool:
    """Re-enqueue a lane whose holder is gone (or whose message was lost), once per expiry (If-Match)."""
    assert state.etag is not None
    tries, at = _stopped_at(state) if state.owner else (state.tries, state.at)
    metadata = _record_metadata(None, clock.time() + work_leases.queued_seconds(), at, tries)
    try:
        storage.replace_json(
            layout.RUNS_CONTAINER,
            layout.lane_record(run["id"], state.lane),
            _record(run["id"], state.lane),
            state.etag,
            metadata,
        )
    except (ConcurrencyConflict, NotFound):
        return False  # renewed, claimed or re-enqueued meanwhile
    index = state.lane + state.end * int(plan_of(run)["cap"])
    work_leases.send(storage, layout.MINIBATCH_QUEUE, _message(run["id"], index))
    return True


def hand_back(storage: Storage, run_id: str, index: int, delay: int) -> None:
    """Put a lane's message back on the queue unclaimed, visible after `delay` seconds (no slot here for it)."""
    work_leases.send(storage, layout.MINIBATCH_QUEUE, _message(run_id, index), delay=delay)


class LaneLost(Exception):
    """Another holder has taken the lane: stop, leaving it to them."""


class Lane:
    """A lane held by this process: the chain's end as last seen, and the results not written yet."""

    def __init__(self, storage: Storage, run: RunRecord, lane: int, owner: str, etag: str, state: LaneState) -> None:
        plan = plan_of(run)
        self.storage = storage
        self.run = run  # the run record as the lane was taken
        self.run_id = run["id"]
        self.lane = lane
        self.cap = int(plan["cap"])
        self.positions = positions(int(plan["total_batches"]), self.cap, lane)
        self.owner = owner
        self.etag = etag
        self.end = state.end
        self.at, self.tries = state.at, state.tries
        #: after its holder died the lane writes every mini-batch as it completes, to pin a fatal one down
        self.careful = state.tries > 0 and state.at == state.end
        self.pending: list[Result] = []
        self.pending_bytes = 0
        self.pending_since = time.monotonic()  # when the oldest result held was added
        self.written_at = time.monotonic()  # the record's or a chunk's last write: the hold's renewal
        self.lost = False
        self._lock = threading.Lock()

    # -- where the lane is -------------------------------------------------------------------------------------

    @property
    def next_position(self) -> int:
        return self.end + len(self.pending)

    def index(self, position: int) -> int:
        return self.lane + position * self.cap

    @property
    def done(self) -> bool:
        return self.next_position >= self.positions

    def tries_used(self, position: int) -> int:
        """Tries of `position` already used up (by instances that stopped, or failed tries written down)."""
        return self.tries if self.at == position else 0

    # -- recording ------------------------------------------------------------------------------------------

    def add(self, result: Result) -> None:
        if not self.pending:
            self.pending_since = time.monotonic()
        self.pending.append(result)
        self.pending_bytes += sum(len(row) + 1 for row in result["rows"]) + len(json.dumps(result["attempts"]))

    def due(self) -> bool:
        """Whether the results held should be written now."""
        if not self.pending:
            return False
        return (
            self.careful
            or self.pending_bytes >= FLUSH_BYTES
            or time.monotonic() - self.pending_since >= work_leases.lease_seconds() / 3
            or bool(self.pending[-1]["failed_items"])
        )

    def flush(self) -> None:
        """Write the results held as one chunk at the chain's end. When another writer recorded some of these
        positions first, theirs stand: ours are dropped and the chain goes on after theirs."""
        with self._lock:
            while self.pending:
                start = self.end
                counts = Counts()
                for result in self.pending:
                    counts = counts + Counts.of(result)
                end = start + len(self.pending)
                chunk: Chunk = {"start": start, "end": end, "counts": counts.to_dict(), "results": self.pending}
                metadata = {
                    "end": str(end),
                    "until": f"{clock.time() + work_leases.lease_seconds():.3f}",
                    **counts.metadata(),
                }
                try:
                    self.storage.create_json(
                        layout.RUNS_CONTAINER, layout.lane_chunk(self.run_id, self.lane, start), chunk, metadata
                    )
                except ConcurrencyConflict:
                    self._adopt(start)
                    continue
                self.end, self.pending, self.pending_bytes = end, [], 0
                self.written_at = time.monotonic()

    def _adopt(self, start: int) -> None:
        """Another writer's chunk is at `start`: take its end, keep only our results past it, and make sure we still
        hold the lane."""
        theirs: Chunk
        theirs, _ = self.storage.read_json(layout.RUNS_CONTAINER, layout.lane_chunk(self.run_id, self.lane, start))
        covered = int(theirs["end"]) - start
        self.end = int(theirs["end"])
        self.pending = self.pending[covered:]
        state = survey(self.storage, self.run_id, self.lane).get(self.lane)
        if state is None or state.owner != self.owner:
            self.lost = True
            self.pending = []
            raise LaneLost(f"run {self.run_id}: lane {self.lane} passed to {state.owner if state else None}")
        self.etag = state.etag or self.etag

    def resume(self, state: LaneState) -> None:
        """Go on from where the lane's chain ends (`state`, a survey's): storage lost chunks this holder wrote."""
        with self._lock:
            self.end, self.pending, self.pending_bytes = state.end, [], 0

    def failed_try(self, position: int, tries: int) -> None:
        """Write down that `position` has used up `tries` tries (so a later holder counts them too)."""
        self.at, self.tries = position, tries
        self._write_record(self.owner, work_leases.lease_seconds())

    # -- holding -------------------------------------------------------------------------------------------

    def beat(self) -> bool:
        """The heartbeat: renew the hold when nothing was written for LEASE/3. False once the lane is lost."""
        if self.lost:
            return False
        if time.monotonic() - self.written_at < work_leases.lease_seconds() / 3:
            return True
        try:
            self._write_record(self.owner, work_leases.lease_seconds())
        except LaneLost:
            return False
        return True

    @contextlib.contextmanager
    def held(self) -> Iterator[Lane]:
        with work_leases.keep_alive((self.run_id, "lane", self.lane, self.owner), self.beat):
            yield self

    def release(self, delay: int = 0) -> None:
        """Stop holding the lane and put its next mini-batch on the queue (a hand-off)."""
        self._write_record(None, work_leases.queued_seconds())
        work_leases.send(self.storage, layout.MINIBATCH_QUEUE, _message(self.run_id, self.index(self.end)), delay=delay)

    def _write_record(self, owner: str | None, hold: float) -> None:
        with self._lock:
            if self.lost:
                raise LaneLost(f"run {self.run_id}: lane {self.lane} was taken over")
            metadata = _record_metadata(owner, clock.time() + hold, self.at, self.tries)
            try:
                self.etag = self.storage.replace_json(
                    layout.RUNS_CONTAINER,
                    layout.lane_record(self.run_id, self.lane),
                    _record(self.run_id, self.lane),
                    self.etag,
                    metadata,
                )
            except (ConcurrencyConflict, NotFound) as exc:
                self.lost = True
                raise LaneLost(f"run {self.run_id}: lane {self.lane} was taken over") from exc
            self.written_at = time.monotonic()


# -- reading the chunks back -------------------------------------------------------------------------------------


def read_chunk(storage: Storage, run_id: str, lane: int, start: int) -> list[Result]:
    chunk: Chunk
    chunk, _ = storage.read_json(layout.RUNS_CONTAINER, layout.lane_chunk(run_id, lane, start))
    return list(chunk["results"])
