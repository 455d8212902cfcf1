"""Files dropped into the default datastore start data schedules' runs within seconds (the blob-triggered function).

On Flex Consumption a blob trigger must use the Event Grid source: Azure Storage sends a BlobCreated event to the
app's blobs extension webhook (the system topic and subscription are in infra/main.bicep), so a drop is seen in
about a second rather than by scanning the container. The local host (`fninfer start`) stands in by scanning the
container every FNINFER_BLOB_SCAN_INTERVAL seconds. Other datastores' containers are watched by the schedules
timer's poll only.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared.core import layout
from shared.core.settings import STORAGE_CONNECTION
from shared.core.storage import app_storage
from shared.schedules import drops

bp = func.Blueprint()
log = logging.getLogger("fninfer.schedules")


@bp.blob_trigger(
    arg_name="blob",
    path=f"{layout.DEFAULT_DATASTORE_CONTAINER}/{{name}}",
    connection=STORAGE_CONNECTION,
    source=func.BlobSource.EVENT_GRID,
)
def dropped_blob(blob: func.InputStream) -> None:
    container, _, name = (blob.name or "").partition("/")
    started = drops.on_blob(app_storage(), container, name)
    if started:
        log.info("Files dropped under %s started runs %s", name, started)
