"""A test app with one function per non-HTTP trigger kind; each records what it received in storage."""

import json
import os
import uuid

import azure.functions as func

from shared.core.storage import app_storage

RECORDS = "trigger-records"

app = func.FunctionApp()


def record(kind: str, document: dict) -> None:
    document["instance"] = os.environ.get("FNINFER_INSTANCE_INDEX")
    app_storage().put_json(RECORDS, f"{kind}/{uuid.uuid4().hex}.json", document)


@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage) -> None:
    body = msg.get_body().decode()
    record("queue", {"body": body, "dequeue_count": msg.dequeue_count, "id": msg.id})
    if body.startswith("fail"):
        raise RuntimeError(f"asked to fail: {body}")


@app.timer_trigger(schedule="*/2 * * * * *", arg_name="timer", use_monitor=True)
def tick(timer: func.TimerRequest) -> None:
    record("timer", {"past_due": timer.past_due, "slot": (timer.schedule_status or {}).get("Next")})


@app.blob_trigger(arg_name="blob", path="drops/{name}", connection="AzureWebJobsStorage")
def dropped(blob: func.InputStream) -> None:
    content = blob.read()
    record("blob", {"name": blob.name, "length": blob.length, "content": content.decode()})
    if content.startswith(b"fail"):
        raise RuntimeError("asked to fail")


@app.route(route="ping")
def ping(req: func.HttpRequest) -> str:
    return json.dumps({"ok": True})
