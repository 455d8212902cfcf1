"""The seeds' batch flow, with `azureml` replaced by `fninfer`: `make demo` calls `run_batch_pipeline` once the model
is registered and the 'batch-data' dataset exists."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from fninfer.core import Environment, Experiment, Workspace
from fninfer.pipeline.core import Pipeline, PipelineData
from fninfer.pipeline.steps import ParallelRunConfig, ParallelRunStep

SCRIPTS = Path(__file__).resolve().parent / "batch_scripts"


def run_batch_pipeline(ws: Workspace, workdir: Path) -> pd.DataFrame:
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
    return df
