"""The app's warm-up: a new instance loads every deployed service before it takes requests, as an Azure ML
deployment runs init() before it is ready, so no first call pays for it.

Azure calls it (`/admin/warmup`) on a new instance of a Premium or Dedicated plan, before routing requests to it; on
the Consumption plan there is no warm-up and each service loads on its first call on the instance. Locally, call
`/admin/warmup` on the host.
"""

from __future__ import annotations

import logging

import azure.functions as func
from azure.functions.warmup import WarmUpContext  # not exported by azure.functions 1.26, though listed there

from functions.scoring import runtime

bp = func.Blueprint()
log = logging.getLogger("fninfer.app")


@bp.function_name("warmup")
@bp.warm_up_trigger("warmup_context")
async def warmup(warmup_context: WarmUpContext) -> None:
    loaded = await runtime().preload()
    log.info("Warm-up: loaded %d service(s): %s", len(loaded), ", ".join(loaded) or "none")
