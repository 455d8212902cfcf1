"""Ids made per call: version 4 UUIDs, distinct across batches, threads and a fork."""

from __future__ import annotations

import os
import threading
import uuid

from shared.core.ids import random_uuid


def test_ids_are_version_4_uuids_and_never_repeat_across_batches_and_threads() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def take(count: int) -> None:
        ids = [random_uuid() for _ in range(count)]
        with lock:
            seen.extend(ids)

    threads = [threading.Thread(target=take, args=(1_000,)) for _ in range(4)]  # several batches of 256 each
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == len(set(seen)) == 4_000
    parsed = [uuid.UUID(value) for value in seen]
    assert all(value.version == 4 and value.variant == uuid.RFC_4122 for value in parsed)
    assert all(str(value) == text for value, text in zip(parsed, seen, strict=True))  # str(uuid4()) form


def test_a_forked_child_does_not_hand_out_its_parents_ids() -> None:
    random_uuid()  # the parent holds a batch
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.write(write, random_uuid().encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child_id != random_uuid()
