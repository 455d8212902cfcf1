"""The baselines for benchmarks/realtime.py: a minimal FastAPI app that calls model.predict on its event loop, or,
with a third argument `threaded`, on Starlette's thread pool (what FastAPI does for a plain `def` endpoint; fninfer
also runs run() on a thread of its own, which keeps a stuck one from blocking the other services).

    python _baseline_app.py MODEL_PATH PORT [threaded]
"""

from __future__ import annotations

import json
import sys

import joblib
import numpy as np
import uvicorn
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

model = joblib.load(sys.argv[1])
threaded = sys.argv[3:] == ["threaded"]
app = FastAPI()


def predict(body: bytes) -> Response:
    data = np.array(json.loads(body)["data"])
    return Response(json.dumps(model.predict(data).tolist()), media_type="application/json")


@app.post("/score")
async def score(request: Request) -> Response:
    body = await request.body()
    return await run_in_threadpool(predict, body) if threaded else predict(body)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
