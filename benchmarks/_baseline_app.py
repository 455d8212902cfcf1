"""The baseline for benchmarks/realtime.py: a minimal FastAPI app that calls model.predict directly."""

from __future__ import annotations

import json
import sys

import joblib
import numpy as np
import uvicorn
from fastapi import FastAPI, Request, Response

model = joblib.load(sys.argv[1])
app = FastAPI()


@app.post("/score")
async def score(request: Request) -> Response:
    data = np.array(json.loads(await request.body())["data"])
    return Response(json.dumps(model.predict(data).tolist()), media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
