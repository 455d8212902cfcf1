"""Runs end as in Azure ML, on a real host: an interactive run (Experiment.start_logging) is completed, failed or
canceled by its code; a step's script cannot change its own status (`_SubmittedRun`: complete() flushes, fail()
records the error, cancel() does nothing) but can cancel its pipeline (`run.parent.cancel()`, MLOps templates'
evaluate step) and tag it (`run.parent.tag`); tags given to `Experiment.submit(published pipeline or endpoint)` and
to the REST endpoints stay with the run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import requests

from fninfer.core import Experiment, Run, Workspace
from fninfer.core.authentication import InteractiveLoginAuthentication
from fninfer.exceptions import ActivityFailedException, UserErrorException
from fninfer.pipeline.core import Pipeline, PipelineEndpoint, PipelineRun, PublishedPipeline, StepRun
from fninfer.pipeline.steps import PythonScriptStep
from shared.core.errors import Conflict


def script(folder: Path, name: str, text: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))
    return str(folder)


def test_an_interactive_run_is_completed_failed_or_canceled_by_its_code(ws: Workspace, unique: str) -> None:
    experiment = Experiment(ws, f"interactive-{unique}")
    run = experiment.start_logging(snapshot_directory=None, display_name="first try")
    assert (run.get_status(), run.display_name, run.type) == ("Running", "first try", None)
    run.log("accuracy", 0.9)
    child = run.child_run(name="fold-1")
    child.log("accuracy", 0.8)
    child.complete()
    run.add_properties({"BuildId": "42"})
    run.add_properties({"BuildId": "42"})  # the same value again is no change
    with pytest.raises(Conflict, match="properties are immutable"):
        run.add_properties({"BuildId": "43"})
    run.complete()
    assert run.get_status() == "Completed" and run.get_details()["endTimeUtc"]
    run.fail("too late")  # a run that is over keeps its status, as in Run History
    assert run.get_status() == "Completed" and run.get_properties()["BuildId"] == "42"
    assert [c.id for c in run.get_children()] == [child.id] and child.get_status() == "Completed"
    assert run.get_metrics(recursive=True) == {run.id: {"accuracy": 0.9}, child.id: {"accuracy": 0.8}}

    with pytest.raises(ZeroDivisionError), experiment.start_logging(snapshot_directory=None) as failing:
        failing.log("step", 1)
        1 / 0  # noqa: B018
    details = failing.get_details()
    assert details["status"] == "Failed" and "ZeroDivisionError" in details["error"]["message"]
    with pytest.raises(ActivityFailedException, match="ZeroDivisionError"):
        failing.wait_for_completion()

    explicit = experiment.start_logging(snapshot_directory=None)
    explicit.fail(error_details="diverged", error_code="UserError")
    assert explicit.get_details()["error"] == {"message": "diverged", "code": "UserError"}
    canceled = experiment.start_logging(snapshot_directory=None)
    canceled.cancel()
    assert canceled.get_status() == "Canceled"

    batch = run.create_children(tag_key="fold", tag_values=["a", "b"])
    assert [c.get_tags() for c in batch] == [{"fold": "a"}, {"fold": "b"}]
    with pytest.raises(UserErrorException, match="more than 100"):
        run.create_children(count=101)
    listed = {r.id: r.get_status() for r in experiment.get_runs()}
    assert listed == {run.id: "Completed", failing.id: "Failed", explicit.id: "Failed", canceled.id: "Canceled"}
    assert Run.get(ws, child.id).parent.id == run.id


def test_a_step_cannot_end_itself_but_can_cancel_its_pipeline(ws: Workspace, tmp_path: Path, unique: str) -> None:
    code = script(
        tmp_path / "evaluate",
        "evaluate.py",
        """
        import sys, time
        from fninfer.core import Run

        run = Run.get_context()
        run.complete()  # a submitted run's status is the system's: nothing changes
        run.cancel()
        run.fail("the new model is worse", error_code="ModelNotBetter")
        pipeline = run.parent
        try:
            pipeline.complete()
        except NotImplementedError as exc:
            run.log("parent_complete", str(exc))
        pipeline.tag("evaluated", "worse")
        run.log("parent_type", type(pipeline).__name__)
        if sys.argv[1] == "cancel":
            pipeline.cancel()
            time.sleep(60)  # stopped when its pipeline is canceled
        """,
    )
    after = script(tmp_path / "register", "register.py", "print('registering')\n")

    def pipeline(mode: str) -> Pipeline:
        evaluate = PythonScriptStep(
            script_name="evaluate.py", arguments=[mode], source_directory=code, name="evaluate", allow_reuse=False
        )
        register = PythonScriptStep(script_name="register.py", source_directory=after, name="register")
        register.run_after(evaluate)
        return Pipeline(ws, [evaluate, register])

    experiment = Experiment(ws, f"evaluate-{unique}")
    kept = experiment.submit(pipeline("keep"))
    assert kept.wait_for_completion(show_output=False) == "Finished"
    evaluate = kept.find_step_run("evaluate")[0]
    assert evaluate.get_status() == "Finished"  # fail() recorded the error; the script's exit decided the status
    assert evaluate.get_details()["error"] == {"message": "the new model is worse", "code": "ModelNotBetter"}
    assert evaluate.get_metrics() == {
        "parent_complete": "Complete is unsupported for Pipeline run.",
        "parent_type": "PipelineRun",
    }
    assert kept.get_tags()["evaluated"] == "worse"  # set from inside the step, seen from outside
    assert PipelineRun.get(ws, kept.id).tags["evaluated"] == "worse"

    canceled = experiment.submit(pipeline("cancel"))
    assert canceled.wait_for_completion(show_output=False, raise_on_error=False) == "Canceled"
    assert [step.name for step in canceled.get_steps()] == ["evaluate"]  # register never started
    assert canceled.find_step_run("evaluate")[0].get_status() == "Canceled"
    assert canceled.get_tags()["evaluated"] == "worse"
    assert [r.id for r in experiment.get_runs(tags={"evaluated": "worse"})] == [canceled.id, kept.id]

    step = kept.find_step_run("evaluate")[0]
    assert isinstance(step, StepRun) and step.pipeline_run_id == kept.id
    with pytest.raises(NotImplementedError, match="Complete is unsupported for Step run"):
        step.complete()
    with pytest.raises(NotImplementedError, match="Fail is unsupported for Pipeline run"):
        kept.fail()


def test_tags_given_to_published_pipelines_and_endpoints_stay_with_the_run(
    ws: Workspace, tmp_path: Path, unique: str
) -> None:
    code = script(tmp_path / "noop", "noop.py", "print('ok')\n")
    step = PythonScriptStep(script_name="noop.py", source_directory=code, name="noop")
    published = Pipeline(ws, [step]).publish(name=f"tagged-{unique}", description="tags")
    experiment = Experiment(ws, f"tagged-{unique}")

    from_sdk = experiment.submit(published, tags={"trigger": "sdk", "attempt": 1})
    assert from_sdk.get_tags() == {"trigger": "sdk", "attempt": "1", "azureml.pipelineid": published.id}
    assert PublishedPipeline.get(ws, published.id).submit(ws, experiment.name).get_tags() == {
        "azureml.pipelineid": published.id
    }

    endpoint = PipelineEndpoint.publish(ws, f"tagged-endpoint-{unique}", "tags", published)
    by_endpoint = experiment.submit(endpoint, tags={"trigger": "endpoint"})
    assert by_endpoint.get_tags()["trigger"] == "endpoint"

    header = InteractiveLoginAuthentication().get_authentication_header()
    for url in (published.endpoint, endpoint.endpoint):
        body = {"ExperimentName": experiment.name, "Tags": {"trigger": "rest"}}
        answer = requests.post(url, headers=header, json=body, timeout=60)
        answer.raise_for_status()
        assert PipelineRun.get(ws, answer.json()["Id"]).get_tags()["trigger"] == "rest"
    for run in (from_sdk, by_endpoint):
        assert run.wait_for_completion(show_output=False) == "Finished"
    assert {r.id for r in PipelineRun.get_pipeline_runs(ws, published.id)} >= {from_sdk.id, by_endpoint.id}
