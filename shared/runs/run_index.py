"""Pipeline runs newest first, a page at a time, without reading every run's record.

Each pipeline run (not its step runs) has an index entry (shared/core/layout.py, "runindex"): an empty blob whose name
sorts the newest run first and whose metadata summarises the run (experiment, status, times, and the published
pipeline, endpoint or schedule that started it). runs.py writes it when the run is created and when it ends, so one
listing answers a page of runs, filtered by experiment or status.

The metadata says whether a run is over. A terminal status is final (it is written after the run became terminal,
and terminal runs never change); the entries that do not say Finished, Failed or Canceled are read from their
records, which say how far the run has got.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NotRequired, TypedDict

from shared.core import layout
from shared.core.errors import ConcurrencyConflict, FninferError, NotFound
from shared.core.storage import Storage, storage_errors

log = logging.getLogger("fninfer.batch")

TERMINAL = frozenset({"Finished", "Failed", "Canceled"})
#: The tags that say what started a run, as index metadata keys.
SOURCES = {
    "pipeline": "azureml.pipelineid",
    "endpoint": "azureml.pipelineendpointid",
    "schedule": "azureml.scheduleid",
}
#: Index entries listed per request when a filter may leave most of them out.
SCAN_PAGE = 200


class IndexedRun(TypedDict):
    """What the index reads of a run's record (`layout.pipeline_run_record`): run_records.RunRecord has these
    fields and more (declared there; run_records calls this module, so this one cannot name it)."""

    id: str
    experiment: str
    tags: dict[str, str | None]
    created_time: str
    start_time: str | None
    end_time: str | None
    status: str
    parent: NotRequired[str | None]  # a step run's: step runs are not indexed


@dataclass(frozen=True)
class RunSummary:
    """What a list of runs shows of one."""

    id: str
    experiment: str
    status: str
    created_time: str
    start_time: str | None
    end_time: str | None
    sources: dict[str, str]

    @property
    def duration_seconds(self) -> float | None:
        """From its start to its end, or to now while it runs."""
        if not self.start_time:
            return None
        end = _time(self.end_time) if self.end_time else datetime.now(UTC)
        return (end - _time(self.start_time)).total_seconds()

    @classmethod
    def of(cls, record: IndexedRun) -> RunSummary:
        tags = record.get("tags") or {}
        return cls(
            id=record["id"],
            experiment=record["experiment"],
            status=record["status"],
            created_time=record["created_time"],
            start_time=record.get("start_time"),
            end_time=record.get("end_time"),
            sources={key: str(tags[tag]) for key, tag in SOURCES.items() if tags.get(tag)},
        )

    @classmethod
    def from_metadata(cls, run_id: str, metadata: dict[str, str]) -> RunSummary:
        return cls(
            id=run_id,
            experiment=metadata.get("experiment", ""),
            status=metadata.get("status", ""),
            created_time=metadata.get("created", ""),
            start_time=metadata.get("start") or None,
            end_time=metadata.get("end") or None,
            sources={key: metadata[key] for key in SOURCES if metadata.get(key)},
        )

    def metadata(self) -> dict[str, str]:
        return {
            "experiment": self.experiment,
            "status": self.status,
            "created": self.created_time,
            "start": self.start_time or "",
            "end": self.end_time or "",
            **{key: value for key, value in self.sources.items() if value.isascii()},
        }


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def entry_name(record: IndexedRun) -> str:
    created = _time(record["created_time"])
    return layout.run_index_entry(round(created.timestamp() * 1_000_000), record["id"])


def _is_pipeline_run(record: IndexedRun) -> bool:
    return not record.get("parent")


def add(storage: Storage, record: IndexedRun) -> None:
    """Index a new pipeline run (a step run is not indexed); an entry that exists is left as it is. Storage
    trouble is logged, not raised: the run stands, and its next transition writes the entry."""
    if _is_pipeline_run(record):
        try:
            storage.create_json(
                layout.RUNS_CONTAINER, entry_name(record), {}, metadata=RunSummary.of(record).metadata()
            )
        except ConcurrencyConflict:
            pass
        except FninferError as exc:
            log.warning("Pipeline run %s: indexing it failed: %s", record["id"], exc)


def update(storage: Storage, record: IndexedRun) -> None:
    """The run's entry once it is over (created if its `add` failed). A move between statuses that are
    not terminal is not written: such an entry is checked against the run's record anyway, and a submit saves the
    request. Storage trouble is logged, not raised: the transition stands, and an entry left saying the run is not
    over is checked against the record."""
    if not _is_pipeline_run(record) or record["status"] not in TERMINAL:
        return
    name, metadata = entry_name(record), RunSummary.of(record).metadata()
    blob = storage.container(layout.RUNS_CONTAINER).get_blob_client(name)
    try:
        with storage_errors(f"{layout.RUNS_CONTAINER}/{name}"):
            blob.set_blob_metadata(metadata)
    except NotFound:
        add(storage, record)
    except FninferError as exc:
        log.warning("Pipeline run %s: updating its index entry failed: %s", record["id"], exc)


@dataclass(frozen=True)
class RunPage:
    """A page of pipeline runs, newest first, and the marker of the next page (None on the last)."""

    runs: list[RunSummary]
    next_marker: str | None


def _current(storage: Storage, summaries: list[RunSummary]) -> list[RunSummary]:
    """The summaries with the runs that are not over read from their records (see the module's docstring); a run
    deleted since it was indexed is left out."""
    live = {summary.id for summary in summaries if summary.status not in TERMINAL}
    if not live:
        return summaries
    paths = [layout.pipeline_run_record(summary.id) for summary in summaries if summary.id in live]
    records: dict[str, IndexedRun] = {r["id"]: r for r in storage.read_many_json(layout.REGISTRY_CONTAINER, paths)}
    return [
        RunSummary.of(records[summary.id]) if summary.id in live else summary
        for summary in summaries
        if summary.id not in live or summary.id in records
    ]


def page(
    storage: Storage,
    size: int = 25,
    marker: str | None = None,
    experiment: str | None = None,
    status: str | None = None,
    source: tuple[str, str] | None = None,
) -> RunPage:
    """Pipeline runs newest first, from `marker` (a page's `next_marker`) on. Without a filter a page holds `size`
    runs; with one (an experiment, a status, a (source, id) such as ("schedule", <id>)), index entries are read
    SCAN_PAGE at a time until `size` runs match, and the page holds every match among those entries."""
    filtered = bool(experiment or status or source)
    container = storage.container(layout.RUNS_CONTAINER)
    listing = container.list_blobs(
        name_starts_with=layout.RUN_INDEX_PREFIX,
        include=["metadata"],
        results_per_page=SCAN_PAGE if filtered else size,
    ).by_page(continuation_token=marker)
    found: list[RunSummary] = []
    next_marker: str | None = None
    with storage_errors(f"{layout.RUNS_CONTAINER}/{layout.RUN_INDEX_PREFIX}*"):
        for listed in listing:
            entries = [
                RunSummary.from_metadata(layout.run_from_index_entry(blob.name), dict(blob.metadata or {}))
                for blob in listed
            ]
            found += [
                summary
                for summary in _current(storage, entries)
                if (not experiment or summary.experiment == experiment)
                and (not status or summary.status == status)
                and (not source or summary.sources.get(source[0]) == source[1])
            ]
            next_marker = listing.continuation_token or None
            if len(found) >= size or not filtered:
                break
    return RunPage(found, next_marker)


def remove(storage: Storage, record: IndexedRun) -> None:
    """Take a deleted pipeline run out of the index (a step run has no entry)."""
    if _is_pipeline_run(record):
        storage.delete_blob(layout.RUNS_CONTAINER, entry_name(record))


def experiments_runs(storage: Storage) -> dict[str, list[str]]:
    """Every pipeline run's id by its experiment, newest first: one listing request per 5,000 runs, no record read."""
    found: dict[str, list[str]] = {}
    for listed in storage.list_with_metadata(layout.RUNS_CONTAINER, layout.RUN_INDEX_PREFIX):
        experiment = listed.metadata.get("experiment", "")
        found.setdefault(experiment, []).append(layout.run_from_index_entry(listed.name))
    return found


def latest_counts(storage: Storage, count: int = 100) -> tuple[dict[str, int], str | None]:
    """The latest `count` pipeline runs by status (one listing), and when the oldest of them was created."""
    latest = page(storage, size=count).runs
    counts: dict[str, int] = {}
    for summary in latest:
        counts[summary.status] = counts.get(summary.status, 0) + 1
    return counts, latest[-1].created_time if latest else None
