"""The studio in chromium, against a workspace built through the SDK: a service deployed and called (some calls
failing), a batch run with a failing mini-batch, a multi-step pipeline with a failing step, a published pipeline
submitted from its form, a schedule. Each test checks what the pages show and that live parts update without a
reload, and keeps screenshots at 1280 and 390 px wide (artifacts/studio/)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import requests
from playwright.sync_api import Page, expect

from fninfer.core import Dataset, Environment, Experiment, Model, Workspace
from fninfer.core.model import InferenceConfig
from fninfer.core.webservice import AciWebservice
from fninfer.pipeline.core import (
    Pipeline,
    PipelineData,
    PipelineEndpoint,
    PipelineRun,
    Schedule,
    ScheduleRecurrence,
)
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep, PythonScriptStep
from tests.browser.browsing import NARROW, Studio
from tests.hosting import RunningHost, eventually

# A real browser on its own host: `make test` and CI run it, the inner loop does not.
# One xdist worker for the module: the browser and host its module fixtures start are the expensive part.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("browser")]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "studio"
BATCH_SCRIPTS = ROOT / "tests" / "fixtures" / "batch"
LIVE_TIMEOUT = 120_000  # ms: a run on a busy machine


def mark_page(page: Page) -> None:
    """A marker a reload would lose: live parts must update without one."""
    page.evaluate("window.__studioMarker = 'still here'")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__studioMarker") == "still here", "the page reloaded"


def fits(page: Page) -> None:
    """Nothing wider than the window: at 390 px wide, wide tables scroll inside their own box."""
    wider = page.evaluate(
        """[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 1
            && !e.closest('.table-wrap, figure.graph, pre')).map((e) => e.tagName + '.' + e.className).slice(0, 5)"""
    )
    assert not wider and page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1"), wider


# -- signing in ---------------------------------------------------------------------------------------------------


def test_nothing_is_readable_without_signing_in(studio: Studio, studio_host: RunningHost) -> None:
    with httpx.Client(base_url=studio_host.base_url, follow_redirects=False) as client:
        for path in ("/api/studio", "/api/studio/runs", "/api/studio/services/x", "/api/studio/schedules"):
            answer = client.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/api/studio/signin")
        assert client.get("/api/studio/runs/x/live").status_code == 401
        assert client.post("/api/studio/schedules/x/disable").status_code == 401
        forged = {"cookie": "fninfer_studio=9999999999.abc.forged"}
        assert client.get("/api/studio", headers=forged).status_code == 303
        bearer = {"authorization": f"Bearer {studio_host.config.admin_key}"}
        assert client.get("/api/studio", headers=bearer).status_code == 200  # what the API accepts, scripts may use
        assert "/api/studio" not in json.dumps(client.get("/api/openapi.json").json()["paths"])  # not the API's

    assert f"Studio: {studio_host.base_url}/api/studio " in studio_host.logs()  # what `fninfer start` prints
    page = studio.page(signed_in=False)
    page.goto("/api/studio/runs")
    expect(page).to_have_url(re.compile(r"/api/studio/signin\?next=%2Fapi%2Fstudio%2Fruns"))
    page.get_by_label("Admin key").fill("not the key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("that is not the admin key")
    page.get_by_label("Admin key").fill(studio_host.config.admin_key)
    page.keyboard.press("Enter")  # the form works by keyboard
    expect(page).to_have_url(re.compile(r"/api/studio/runs$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "fninfer_studio")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/api/studio"
    studio.screenshot(page, "runs-empty")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/api/studio/signin"))
    page.goto("/api/studio")
    expect(page).to_have_url(re.compile(r"/api/studio/signin"))


# -- a real-time service ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(studio_ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("studio-service")
    shutil.copy(FIXTURES / "score.py", folder / "score.py")
    (folder / "model.txt").write_text("a model")
    model = Model.register(studio_ws, model_path=str(folder / "model.txt"), model_name="studio-model", tags={"k": "v"})
    config = InferenceConfig(entry_script="score.py", source_directory=str(folder))
    deployed = Model.deploy(
        studio_ws, "studio-service", [model], config, AciWebservice.deploy_configuration(auth_enabled=True)
    )
    deployed.wait_for_deployment()
    return deployed


def test_a_service_page_shows_its_calls_latency_failures_and_logs(studio: Studio, service: Any) -> None:
    primary, _ = service.get_keys()
    headers = {"Authorization": f"Bearer {primary}"}
    for value in range(20):
        answer = requests.post(service.scoring_uri, json={"value": value, "sleep": 0.01}, headers=headers, timeout=30)
        assert answer.status_code == 200
    failed = requests.post(service.scoring_uri, json={"fail": True}, headers=headers, timeout=30)
    assert failed.status_code == 500
    failed_id = failed.headers["x-request-id"]
    assert requests.post(service.scoring_uri, json={"value": 1}, timeout=30).status_code == 401  # no key

    page = studio.page()
    page.get_by_role("link", name="Services").click()
    row = page.locator("tr[data-service='studio-service']")
    expect(row).to_contain_text("Healthy")
    row.get_by_role("link", name="studio-service").click()
    mark_page(page)
    expect(page.locator("#scoring-uri")).to_have_text(service.scoring_uri)
    # calls are written in the background every 2 s and the page polls every 5 s: it catches up by itself
    expect(page.locator("[data-figure='calls-per-minute']")).not_to_have_text("0.00", timeout=30_000)
    expect(page.locator("#failures tr[data-request-id='" + failed_id + "']")).to_contain_text("500", timeout=30_000)
    assert_not_reloaded(page)
    latency = page.locator("svg[data-chart='chart-latency']")
    expect(latency.locator("[data-series='p50']").first).to_be_attached()
    expect(latency.locator("[data-series='p99']").first).to_be_attached()
    expect(page.locator("svg[data-chart='chart-calls'] [data-series='calls']").first).to_be_attached()
    calls = page.locator("[data-figure='calls-per-minute']").inner_text()
    assert float(calls) == pytest.approx(22 / 60, abs=0.02)  # 20 answered, 1 failed, 1 refused, over an hour
    assert page.locator("[data-figure='error-rate']").inner_text() == f"{100 / 22:.1f} %"
    assert "ms" in page.locator("[data-figure='p99']").inner_text()
    failure = page.locator(f"#failures tr[data-request-id='{failed_id}']")
    expect(failure).to_contain_text(f"run() failed (request id {failed_id})")
    expect(page.locator("#failures")).to_contain_text("401")
    expect(page.locator("#service-log")).to_contain_text("ValueError: asked to fail")
    assert primary not in page.content()  # keys are never shown
    page.get_by_text("Latency per minute (ms): the values").click()  # the chart's numbers, for screen readers
    expect(page.locator("#chart-latency-data table")).to_be_visible()
    studio.screenshot(page, "service")

    narrow = studio.page(NARROW)
    narrow.goto(f"/api/studio/services/{service.name}")
    expect(narrow.locator("[data-figure='calls-per-minute']")).not_to_have_text("0.00")
    fits(narrow)
    studio.screenshot(narrow, "service-390")

    page.get_by_role("link", name="Models").click()
    model = page.locator("table[data-model='studio-model']")
    expect(model).to_contain_text("k=v")
    expect(model.get_by_role("link", name="studio-service")).to_be_visible()


# -- a batch run with a failing mini-batch --------------------------------------------------------------------------


def batch_pipeline(ws: Workspace, tmp_path: Path) -> Pipeline:
    """One ParallelRunStep over eight files, one mini-batch each: one raises, the others take a moment."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    for index in range(8):
        (folder / f"f{index}.txt").write_text("raise" if index == 3 else "sleep 0.5")
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir=str(folder), target_path="studio-batch", overwrite=True, show_progress=False)
    dataset = Dataset.File.from_files(path=(datastore, "studio-batch/*.txt"))
    config = ParallelRunConfig(
        source_directory=str(BATCH_SCRIPTS),
        entry_script="behaviours.py",
        mini_batch_size="1",
        error_threshold=-1,
        output_action="append_row",
        environment=Environment("studio_environment"),
        compute_target="cpu-cluster",
        node_count=1,
        process_count_per_node=2,
    )
    step = ParallelRunStep(
        name="score-files",
        parallel_run_config=config,
        inputs=[dataset.as_named_input("files")],
        output=PipelineData("scores", datastore=datastore),
        allow_reuse=False,
    )
    return Pipeline(workspace=ws, steps=[step])


def test_a_batch_run_page_follows_progress_to_100_percent_and_shows_the_failure(
    studio: Studio, studio_ws: Workspace, tmp_path: Path
) -> None:
    run = Experiment(studio_ws, "studio-batch").submit(batch_pipeline(studio_ws, tmp_path))
    page = studio.page()
    page.goto(f"/api/studio/runs/{run.id}")
    mark_page(page)
    bar = page.get_by_role("progressbar", name="score-files: mini-batches")
    expect(bar).to_have_attribute("data-percent", "100", timeout=LIVE_TIMEOUT)
    expect(page.locator("#run-status")).to_contain_text("Finished", timeout=LIVE_TIMEOUT)
    assert_not_reloaded(page)
    expect(bar).to_have_attribute("aria-valuetext", "8 of 8 mini-batches processed, 1 failed")
    expect(page.locator("[data-step-row='score-files']")).to_contain_text("7 rows written")
    failure = page.locator("[data-failure='score-files']")
    expect(failure).to_contain_text("mini-batch 3")
    expect(failure.locator("pre.traceback")).to_contain_text("ValueError: cannot score f3.txt")
    expect(failure.locator("pre.traceback")).to_contain_text("Traceback (most recent call last)")
    step_id = next(run.get_steps()).id
    download = page.get_by_role("link", name="parallel_run_step.txt")
    with page.expect_download() as started:
        download.click()
    saved = Path(started.value.path()).read_text().splitlines()
    assert len(saved) == 7 and all(line.endswith(": ok") for line in saved)
    studio.screenshot(page, "batch-run")

    page.get_by_role("link", name="Pipeline runs").click()
    row = page.locator(f"tr[data-run='{run.id}']")
    expect(row).to_contain_text("studio-batch")
    expect(row).to_contain_text("Finished")
    page.get_by_label("Status").select_option("Failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f"tr[data-run='{run.id}']")).to_have_count(0)
    page.get_by_label("Status").select_option("Finished")
    page.get_by_label("Experiment").fill("studio-batch")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f"tr[data-run='{run.id}']")).to_have_count(1)
    page.goto(f"/api/studio/runs/{step_id}")
    expect(page.get_by_role("link", name=run.id)).to_be_visible()  # the step run names its pipeline run


# -- a multi-step pipeline --------------------------------------------------------------------------------------------


def steps_pipeline(ws: Workspace) -> Pipeline:
    """prepare -> (train, check) -> report; check fails, so report never starts."""
    datastore = ws.get_default_datastore()
    prepared, model, checked = (PipelineData(n, datastore=datastore) for n in ("prepared", "model", "checked"))
    common = {"source_directory": str(FIXTURES), "allow_reuse": False}
    prepare = PythonScriptStep(
        "prepare.py", name="prepare", arguments=["--out", prepared], outputs=[prepared], **common
    )
    train = PythonScriptStep(
        "train.py",
        name="train",
        arguments=["--data", prepared, "--model", model],
        inputs=[prepared],
        outputs=[model],
        **common,
    )
    check = PythonScriptStep(
        "check.py",
        name="check",
        arguments=["--data", prepared, "--out", checked],
        inputs=[prepared],
        outputs=[checked],
        **common,
    )
    report = PythonScriptStep(
        "report.py",
        name="report",
        arguments=["--model", model, "--checked", checked],
        inputs=[model, checked],
        **common,
    )
    return Pipeline(workspace=ws, steps=[prepare, train, check, report])


def test_a_pipeline_run_page_draws_each_step_in_its_status(studio: Studio, studio_ws: Workspace) -> None:
    run = Experiment(studio_ws, "studio-steps").submit(steps_pipeline(studio_ws), continue_on_step_failure=True)
    page = studio.page()
    page.goto(f"/api/studio/runs/{run.id}")
    mark_page(page)
    expect(page.locator("#run-status")).to_contain_text("Failed", timeout=LIVE_TIMEOUT)
    assert_not_reloaded(page)
    graph = page.locator("figure.graph svg")
    expected = {"prepare": "Finished", "train": "Finished", "check": "Failed", "report": "NotStarted"}
    for name, status in expected.items():
        expect(graph.locator(f"g[data-step='{name}']")).to_have_attribute("data-status", status)
        expect(graph.get_by_role("link", name=re.compile(f"^Step {name} .*: {status}$"))).to_be_visible()
    edges = {
        graph.locator("path.edge").nth(i).get_attribute("data-edge") for i in range(graph.locator("path.edge").count())
    }
    assert edges == {"prepare->train", "prepare->check", "train->report", "check->report"}
    boxes = {name: graph.locator(f"g[data-step='{name}'] rect").bounding_box() for name in expected}
    assert boxes["prepare"]["y"] < boxes["train"]["y"] == boxes["check"]["y"] < boxes["report"]["y"]  # type: ignore[index]
    failure = page.locator("[data-failure='check']")
    expect(failure).to_contain_text("exited with status 1")
    expect(failure.locator("pre.traceback")).to_contain_text("ValueError: the numbers failed their check")
    studio.screenshot(page, "pipeline-run")

    graph.get_by_role("link", name=re.compile("^Step train ")).focus()
    page.keyboard.press("Enter")  # the graph's steps are links, by keyboard too
    expect(page.locator("#run-title")).to_contain_text("Step train")
    expect(page.locator("figure.chart svg[data-chart^='metric-']")).to_have_count(1)
    expect(page.locator("figure.chart figcaption")).to_have_text("loss")
    expect(page.locator("figure.chart path[data-series='loss']")).to_be_attached()
    expect(page.get_by_role("link", name="model.txt")).to_be_visible()
    studio.screenshot(page, "step-run")

    narrow = studio.page(NARROW)
    narrow.goto(f"/api/studio/runs/{run.id}")
    expect(narrow.locator("g[data-step='check']")).to_have_attribute("data-status", "Failed")
    fits(narrow)
    studio.screenshot(narrow, "pipeline-run-390")


# -- published pipelines and schedules --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published(studio_ws: Workspace) -> Any:
    run = Experiment(studio_ws, "studio-publish").submit(steps_pipeline(studio_ws), continue_on_step_failure=True)
    run.wait_for_completion(show_output=False, timeout_seconds=300, raise_on_error=False)
    return run.publish_pipeline(name="Studio steps", description="four steps", version="1.0")


def test_a_published_pipeline_is_submitted_from_its_form(studio: Studio, studio_ws: Workspace, published: Any) -> None:
    page = studio.page()
    page.get_by_role("link", name="Pipelines").click()
    page.get_by_role("link", name="Studio steps").click()
    page.get_by_role("button", name="Submit").click()  # without an experiment: the browser asks for one
    expect(page.get_by_label("Experiment")).to_have_js_property("validity.valueMissing", True)
    page.get_by_label("Experiment").fill("bad name with spaces")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("alert")).to_contain_text("experiment name 'bad name with spaces' is not valid")
    page.get_by_label("Experiment").fill("studio-form")
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/api/studio/runs/[0-9a-f]{32}$"))
    run_id = page.url.rsplit("/", 1)[1]
    submitted = PipelineRun(Experiment(studio_ws, "studio-form"), run_id)
    assert submitted.get_tags()["azureml.pipelineid"] == published.id
    expect(page.locator("#run-status")).to_contain_text(re.compile("NotStarted|Running|Failed"))

    endpoint = PipelineEndpoint.publish(studio_ws, "studio-endpoint", "the steps, by a stable URL", published)
    page.get_by_role("link", name="Pipelines").click()
    page.get_by_role("link", name="studio-endpoint").click()
    expect(page.locator("tr[data-version='0']")).to_contain_text("default")
    expect(page.get_by_label("Version")).to_have_value("0")
    page.get_by_label("Experiment").fill("studio-endpoint-form")
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/api/studio/runs/[0-9a-f]{32}$"))
    tags = PipelineRun(Experiment(studio_ws, "studio-endpoint-form"), page.url.rsplit("/", 1)[1]).get_tags()
    assert tags["azureml.pipelineendpointid"] == endpoint.id


def test_a_schedule_page_shows_the_next_five_times_its_runs_and_turns_off(
    studio: Studio, studio_ws: Workspace, studio_host: RunningHost, published: Any
) -> None:
    recurrence = ScheduleRecurrence(
        frequency="Day", interval=1, hours=[9, 17], minutes=[30], time_zone="W. Europe Standard Time"
    )
    schedule = Schedule.create(
        studio_ws,
        name="Studio twice a day",
        pipeline_id=published.id,
        experiment_name="studio-scheduled",
        recurrence=recurrence,
    )
    zone, now = ZoneInfo("Europe/Berlin"), datetime.now(UTC)
    expected = []
    day = now.astimezone(zone).date()
    while len(expected) < 5:
        for hour in (9, 17):
            moment = datetime(day.year, day.month, day.day, hour, 30, tzinfo=zone)
            if moment > now + timedelta(seconds=5) and len(expected) < 5:
                expected.append(moment.strftime("%A %Y-%m-%d %H:%M %Z"))
        day += timedelta(days=1)

    page = studio.page()
    page.get_by_role("link", name="Schedules").click()
    row = page.locator(f"tr[data-schedule='{schedule.id}']")
    expect(row).to_contain_text("Every day at 09:30, 17:30 (W. Europe Standard Time)")
    row.get_by_role("link", name="Studio twice a day").click()
    expect(page.locator("#next-times li")).to_have_text(expected)
    studio.screenshot(page, "schedule")
    page.get_by_role("button", name="Disable this schedule").click()
    expect(page.locator("dl.facts")).to_contain_text("Disabled")
    expect(page.locator("#next-times")).to_have_count(0)
    assert Schedule.get(studio_ws, schedule.id).status == "Disabled"
    page.get_by_role("button", name="Enable this schedule").click()
    expect(page.locator("#next-times li")).to_have_count(5)
    schedule.disable()

    weekly = Schedule.create(  # a plain weekly recurrence fires as it is created, then every week
        studio_ws,
        name="Studio weekly",
        pipeline_id=published.id,
        experiment_name="studio-weekly",
        recurrence=ScheduleRecurrence(frequency="Week", interval=1),
    )
    try:
        with httpx.Client(base_url=studio_host.base_url) as client:  # the schedules timer, now
            assert client.post("/admin/functions/run_schedules", json={"input": ""}).status_code == 202
        fired = eventually(weekly.get_last_pipeline_run, timeout=90)
        page.goto(f"/api/studio/schedules/{weekly.id}")
        expect(page.locator(f"tr[data-run='{fired.id}']")).to_contain_text("studio-weekly")
        expect(page.locator(f"tr[data-run='{fired.id}']")).to_contain_text("schedule")
        expect(page.locator("#recurrence-words")).to_have_text("Every week (UTC)")
        following = datetime.fromisoformat(page.locator("#next-times time").first.get_attribute("datetime") or "")
        assert timedelta(days=6, hours=23) < following - datetime.now(UTC) <= timedelta(weeks=1)
    finally:
        weekly.disable()


def test_the_overview_counts_and_is_usable_by_keyboard(studio: Studio, service: Any, published: Any) -> None:
    page = studio.page()
    page.goto("/api/studio")
    cards = page.locator("dl.cards").first
    expect(cards).to_contain_text("Real-time services")
    expect(page.locator("#activity")).to_contain_text("Latest pipeline runs")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="fninfer studio")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Overview")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/api/studio/models$"))
    for name, path in (
        ("Models", "models"),
        ("Services", "services"),
        ("Pipeline runs", "runs"),
        ("Pipelines", "pipelines"),
        ("Schedules", "schedules"),
    ):
        page.get_by_role("link", name=name, exact=True).click()
        expect(page).to_have_url(re.compile(f"/api/studio/{path}$"))
        expect(page.get_by_role("link", name=name, exact=True)).to_have_attribute("aria-current", "page")
    studio.screenshot(page, "schedules")
    page.goto("/api/studio")
    studio.screenshot(page, "overview")
    narrow = studio.page(NARROW)
    for path in ("", "/models", "/services", "/runs", "/pipelines", "/schedules"):
        narrow.goto(f"/api/studio{path}")
        fits(narrow)
    studio.screenshot(narrow, "runs-390")
