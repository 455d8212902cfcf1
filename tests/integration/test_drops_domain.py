"""Files dropped into a data schedule's folder (`shared/schedules/drops.py`), driven in-process against an Azurite of
its own: a burst of uploads, each blob's event delivered while the burst is still going on, starts exactly one run that
sees every file; a late file starts another; the poll defers to a drop being settled, and takes over from a dead
one."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core import layout
from shared.core.storage import Storage
from shared.schedules import drops, runner, schedule_records
from tests.integration.test_batch_domain import drain, own_azurite, own_storage, put_inputs, storage
from tests.integration.test_schedules_domain import no_other_schedules, publish, runs_of

__all__ = ["no_other_schedules", "own_azurite", "own_storage", "storage"]  # fixtures

SETTLE = 1.0


def data_schedule(storage: Storage, folder: str, polling_interval: int = 60) -> dict[str, Any]:
    default = {"dataset": None, "paths": [{"datastore": "workspaceblobstore", "path": "unused/*.txt"}]}
    pipeline = publish(storage, input_data={"kind": "dataset", "default": default})
    document = {
        "name": "On dropped files",
        "pipeline_id": pipeline["id"],
        "experiment_name": "Batch_Prediction",
        "datastore": "workspaceblobstore",
        "path_on_datastore": folder,
        "polling_interval": polling_interval,
        "data_path_parameter_name": "input_data",
    }
    return schedule_records.create_schedule(storage, document)


def test_a_burst_of_fifty_drops_starts_one_run_that_sees_them_all(storage: Storage) -> None:
    folder = put_inputs(storage, {"before.txt": "ok"})  # there before the schedule: not part of any drop
    schedule = data_schedule(storage, folder)
    container = storage.container(layout.DEFAULT_DATASTORE_CONTAINER)
    events: list[str] = []
    uploaded = threading.Event()

    def upload() -> None:  # the burst: 50 files over about a second, each one's event raised as it lands
        for i in range(50):
            name = f"{folder}/drop-{i:02d}.txt"
            container.upload_blob(name, b"ok", overwrite=True)
            events.append(name)
            time.sleep(0.02)
        uploaded.set()

    uploader = threading.Thread(target=upload)
    uploader.start()
    started: list[str] = []
    with ThreadPoolExecutor(8) as pool:  # events handled concurrently, as the blob trigger does
        futures, handed = [], 0
        while not (uploaded.is_set() and handed == len(events)):
            while handed < len(events):
                name = events[handed]
                futures.append(pool.submit(drops.on_blob, storage, layout.DEFAULT_DATASTORE_CONTAINER, name, SETTLE))
                handed += 1
            time.sleep(0.01)
        for future in futures:
            started += future.result()
    uploader.join()

    assert len(started) == 1 and [run["id"] for run in runs_of(storage, schedule["id"])] == started
    run = drain(storage, started[0])
    assert run["status"] == "Finished" and run["plan"]["total_items"] == 51  # the folder: the burst and before.txt
    assert run["step"]["input"]["paths"] == [{"datastore": "workspaceblobstore", "path": folder}]

    # A file dropped later is its own run; one beside the folder (a name that merely starts the same) is none.
    container.upload_blob(f"{folder}-other/x.txt", b"ok")
    assert drops.on_blob(storage, layout.DEFAULT_DATASTORE_CONTAINER, f"{folder}-other/x.txt", SETTLE) == []
    container.upload_blob(f"{folder}/late.txt", b"ok")
    assert len(drops.on_blob(storage, layout.DEFAULT_DATASTORE_CONTAINER, f"{folder}/late.txt", SETTLE)) == 1
    assert drops.on_blob(storage, layout.DEFAULT_DATASTORE_CONTAINER, f"{folder}/late.txt", SETTLE) == []  # seen
    assert len(runs_of(storage, schedule["id"])) == 2


def test_the_poll_defers_to_a_drop_being_settled_and_takes_over_from_a_dead_one(storage: Storage) -> None:
    folder = put_inputs(storage, {"before.txt": "ok"})
    schedule = data_schedule(storage, folder, polling_interval=1)
    storage.container(layout.DEFAULT_DATASTORE_CONTAINER).upload_blob(f"{folder}/new.txt", b"ok")
    token = drops._claim(storage, schedule["id"])  # a waiter that then dies: its claim is never released
    assert token is not None and drops._claim(storage, schedule["id"]) is None
    now = datetime.now(UTC)
    assert runner.tick(storage, now + timedelta(minutes=1, seconds=1)) == []  # the claim is live
    expired = now + timedelta(seconds=drops.MAX_WAIT_SECONDS + drops.CLAIM_MARGIN_SECONDS + 1)
    assert len(runner.tick(storage, expired)) == 1
    assert len(runs_of(storage, schedule["id"])) == 1


def test_drops_in_unwatched_places_start_nothing(storage: Storage) -> None:
    folder = put_inputs(storage, {"before.txt": "ok"})
    schedule = data_schedule(storage, folder)
    schedule_records.set_status(storage, schedule["id"], schedule_records.ScheduleStatus.DISABLED)
    storage.container(layout.DEFAULT_DATASTORE_CONTAINER).upload_blob(f"{folder}/new.txt", b"ok")
    assert drops.watching(storage, layout.DEFAULT_DATASTORE_CONTAINER, f"{folder}/new.txt") == []
    schedule_records.set_status(storage, schedule["id"], schedule_records.ScheduleStatus.ACTIVE)
    assert drops.watching(storage, "another-container", f"{folder}/new.txt") == []
    assert [s["id"] for s in drops.watching(storage, layout.DEFAULT_DATASTORE_CONTAINER, f"{folder}/new.txt")] == [
        schedule["id"]
    ]
