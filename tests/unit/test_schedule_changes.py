"""What a data schedule counts as a change (shared/schedules/runner.py), on storage's 1-second timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

from azure.storage.blob import BlobProperties

from shared.schedules.runner import unseen
from shared.schedules.schedule_records import watermark_of

SECOND = datetime(2026, 11, 22, 9, 0, 1, tzinfo=UTC)


def blob(name: str, etag: str, at: datetime = SECOND) -> BlobProperties:
    properties = BlobProperties(name=name)
    properties.etag, properties.last_modified = etag, at
    return properties


def test_a_blob_rewritten_in_the_second_of_the_watermark_is_a_change() -> None:
    watermark, at_watermark = watermark_of([blob("a.txt", "e1"), blob("b.txt", "e1")])
    state = {"watermark": watermark, "at_watermark": at_watermark}
    assert unseen([blob("a.txt", "e1"), blob("b.txt", "e1")], state) == []  # nothing new
    rewritten = blob("a.txt", "e2")  # same second (storage times have 1 s resolution), new content
    assert unseen([rewritten, blob("b.txt", "e1")], state) == [rewritten]
    added = blob("c.txt", "e1")
    assert unseen([blob("a.txt", "e1"), blob("b.txt", "e1"), added], state) == [added]
