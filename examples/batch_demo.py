"""The seeds' batch flow, with `azureml` replaced by `fninfer`: `make demo` calls `run_batch_pipeline` once the model
is registered and the 'batch-data' dataset exists, then `publish_and_schedule` with its run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import requests

from fninfer.core import Environment, Experiment, Workspace
from fninfer.core.authentication import InteractiveLoginAuthentication
from fninfer.pipeline.core import Pipeline, PipelineData, PipelineRun, Schedule, ScheduleRecurrence
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep

SCRIPTS = Path(__file__).resolve().parent / "batch_scripts"


def run_batch_pipeline(ws: Workspace, workdir: Path) -> PipelineRun:
    """Create the pipeline, run it, wait, download parallel_run_step.txt and read it with pandas (the seeds' code)."""
    os.chdir(workdir)
    shutil.copytree(SCRIPTS, "batch_scripts", dirs_exist_ok=True)
    batch_env = Environment("batch_environment")
    aml_cluster = "aml-cluster"  # a name: on fninfer the compute is the Function App

    # Get the batch dataset for input
    batch_data_set = ws.datasets["batch-data"]

    # Set the output location
    default_ds = ws.get_default_datastore()
    output_dir = PipelineData(name="inferences", datastore=default_ds, output_path_on_compute="results")

    # Define the parallel run step step configuration
    parallel_run_config = ParallelRunConfig(
        source_directory="batch_scripts",
        entry_script="batch_scoring_script.py",
        mini_batch_size="5",
        error_threshold=10,
        output_action="append_row",
        environment=batch_env,
        compute_target=aml_cluster,
        node_count=4,
    )

    # Create the parallel run step
    parallelrun_step = ParallelRunStep(
        name="batch-score",
        parallel_run_config=parallel_run_config,
        inputs=[batch_data_set.as_named_input("batch_data")],
        output=output_dir,
        arguments=[],
        allow_reuse=True,
    )
    pipeline = Pipeline(workspace=ws, steps=[parallelrun_step])

    # Run the pipeline as an experiment
    pipeline_run = Experiment(ws, "batch_prediction_pipeline").submit(pipeline)
    pipeline_run.wait_for_completion(show_output=True)

    # Get the run for the first step and download its output
    prediction_run = next(pipeline_run.get_children())
    prediction_output = prediction_run.get_output_data("inferences")
    prediction_output.download(local_path="results")

    # Traverse the folder hierarchy and find the results file
    for root, _dirs, files in os.walk("results"):
        for file in files:
            if file.endswith("parallel_run_step.txt"):
                result_file = os.path.join(root, file)

    # cleanup output format
    df = pd.read_csv(result_file, delimiter=":", header=None)
    df.columns = ["File", "Prediction"]

    # Display the first 20 results
    print(df.head(20))
    return pipeline_run


def publish_and_schedule(ws: Workspace, pipeline_run: PipelineRun) -> Schedule:
    """Publish the run's pipeline, start it over REST with `requests`, and create the weekly schedule (the seeds)."""
    published_pipeline = pipeline_run.publish_pipeline(
        name="Batch_Prediction_Pipeline", description="Batch pipeline", version="1.0"
    )
    rest_endpoint = published_pipeline.endpoint
    print(f"published {published_pipeline.name} {published_pipeline.version}: {rest_endpoint}")

    interactive_auth = InteractiveLoginAuthentication()
    auth_header = interactive_auth.get_authentication_header()

    response = requests.post(rest_endpoint, headers=auth_header, json={"ExperimentName": "Batch_Prediction"})
    run_id = response.json()["Id"]
    print(f"POST {rest_endpoint} -> {response.status_code}, run {run_id}")
    rest_run = PipelineRun(Experiment(ws, "Batch_Prediction"), run_id)
    rest_run.wait_for_completion(show_output=True)

    weekly = ScheduleRecurrence(frequency="Week", interval=1)
    pipeline_schedule = Schedule.create(
        ws,
        name="Weekly Predictions",
        description="batch inferencing",
        pipeline_id=published_pipeline.id,
        experiment_name="Batch_Prediction",
        recurrence=weekly,
    )
    print(f"schedule {pipeline_schedule.name!r} ({pipeline_schedule.id}): {pipeline_schedule.recurrence}")
    return pipeline_schedule
