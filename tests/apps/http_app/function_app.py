"""A test app exercising the local host's HTTP semantics."""

import asyncio
import logging
import os
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="items/recent", methods=["GET"])
def recent_items(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("recent")


@app.route(route="items/{id:int}", methods=["GET"])
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"item {req.route_params['id']}")


@app.route(route="models/{name}/{version:int?}", methods=["GET", "POST"])
def model_route(req: func.HttpRequest) -> func.HttpResponse:
    import json

    document = {"route_params": dict(req.route_params), "params": dict(req.params), "method": req.method}
    document["body"] = req.get_body().decode()
    document["header"] = req.headers.get("x-test-header")
    return func.HttpResponse(json.dumps(document), mimetype="application/json")


@app.route(route="async-echo", methods=["POST"])
async def async_echo(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0.01)
    return func.HttpResponse(req.get_body(), status_code=201)


@app.route(route="plain")
def plain(req: func.HttpRequest) -> str:
    return "plain text"


@app.route(route="boom")
def boom(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    logging.info("about to fail in invocation %s", context.invocation_id)
    raise RuntimeError("secret internal detail")


@app.route(route="slow")
def slow(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("seconds", "5")))
    return func.HttpResponse("done")


@app.route(route="crash", methods=["POST"])
def crash(req: func.HttpRequest) -> func.HttpResponse:
    os._exit(70)  # the worker process dies mid-request, as after a native crash


@app.route(route="whoami")
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"{os.environ.get('FNINFER_INSTANCE_INDEX')} {os.getpid()}")


# Non-HTTP functions, for the admin invocation API (`POST /admin/functions/<name>`). The queue is never written and
# the timer fires once a year, so they run only when the tests invoke them.
@app.queue_trigger(arg_name="msg", queue_name="http-app-admin-only", connection="AzureWebJobsStorage")
def on_queue(msg: func.QueueMessage) -> None:
    logging.info("queue message %r, dequeue_count %s", msg.get_body().decode(), msg.dequeue_count)


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *")
def yearly(timer: func.TimerRequest) -> None:
    logging.info("timer past_due %s", timer.past_due)


@app.blob_trigger(arg_name="blob", path="http-app-admin-blobs/{name}", connection="AzureWebJobsStorage")
def on_blob(blob: func.InputStream) -> None:
    logging.info("blob %s, %d bytes: %r", blob.name, blob.length, blob.read().decode())
