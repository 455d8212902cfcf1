"""`make demo`: start Azurite and the app's local host, then run the seeds' workflows against them, printing each step.

The host runs from `.fninfer/demo/` (its own Azurite data, its own config.json), so the demo never disturbs a
`fninfer start` you have running yourself. Everything below is the seeds' code with `azureml` replaced by `fninfer`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import json  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402
from batch_demo import publish_and_schedule, run_batch_pipeline  # noqa: E402
from train_model import train, write_batch_files  # noqa: E402

from fninfer.core import Dataset, Model, Workspace  # noqa: E402
from fninfer.core.conda_dependencies import CondaDependencies  # noqa: E402
from fninfer.core.model import InferenceConfig  # noqa: E402
from fninfer.core.webservice import AksWebservice  # noqa: E402
from fninfer_host.testing import run_host  # noqa: E402


def step(title: str) -> None:
    print(f"\n== {title}")


def main() -> None:
    workdir = ROOT / ".fninfer" / "demo"
    step("Starting Azurite and the local Functions host (fninfer start)")
    with run_host(app_dir=ROOT, workdir=workdir) as host:
        print(f"host: {host.base_url}  (console log: {host.log_path})")
        ws = Workspace.from_config(host.config_path)

        step("Training a classifier on iris (bundled with scikit-learn)")
        scratch = Path(tempfile.mkdtemp(prefix="fninfer-demo-"))
        model_file = train(scratch / "model.pkl")
        print(f"saved {model_file}")

        step("Model.register(...) as in the seeds")
        classification_model = Model.register(
            workspace=ws,
            model_name="classification_model",
            model_path=str(model_file),  # local path
            description="A classification model",
        )
        print(f"registered {classification_model.name} version {classification_model.version}")
        print(f"sha256 {classification_model.sha256}")

        step("The registry: Model.list(ws)")
        for model in Model.list(ws):
            print(f"  {model.name}:{model.version}  {model.description}")

        step("Deploying it as a real-time service (seed 7.1: entry script, environment, InferenceConfig)")
        service_files = scratch / "service_files"
        shutil.copytree(ROOT / "examples" / "service_files", service_files)
        myenv = CondaDependencies()
        myenv.add_conda_package("scikit-learn")
        (service_files / "env.yml").write_text(myenv.serialize_to_string())
        inference_config = InferenceConfig(
            runtime="python", source_directory=str(service_files), entry_script="score.py", conda_file="env.yml"
        )
        # AKS: key auth. The seeds' clients decode the answer twice (`json.loads(service.run(...))`): ask for that body
        # (Azure ML's server, fninfer's default, answers the list itself; see docs/services.md).
        deploy_config = AksWebservice.deploy_configuration(cpu_cores=1, memory_gb=1, response_encoding="json-string")
        service = Model.deploy(
            ws, "classifier-service", [classification_model], inference_config, deploy_config, overwrite=True
        )
        service.wait_for_deployment(show_output=True)

        step("Scoring with the SDK: service.run(input_data=json_data)")
        x_new = [[0.1, 2.3, 4.1, 2.0], [0.2, 1.8, 3.9, 2.1]]
        json_data = json.dumps({"data": x_new})
        predictions = json.loads(service.run(input_data=json_data))
        for i in range(len(x_new)):
            print(f"  {x_new[i]} -> {predictions[i]}")

        step("Scoring with plain HTTP: requests.post(scoring_uri, data, headers) with the service key")
        primary_key, _ = service.get_keys()
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + primary_key}
        response = requests.post(url=service.scoring_uri, data=json_data, headers=headers)
        print(f"  POST {service.scoring_uri} -> {response.status_code} {response.json()!r}")
        print(f"  without the key -> {requests.post(url=service.scoring_uri, data=json_data).status_code}")

        step("Uploading batch data to the default datastore and registering it as the 'batch-data' dataset")
        batch_folder = scratch / "batch-data"
        write_batch_files(batch_folder, count=20)
        default_ds = ws.get_default_datastore()
        default_ds.upload(src_dir=str(batch_folder), target_path="batch-data", overwrite=True, show_progress=False)
        batch_data_set = Dataset.File.from_files(path=(default_ds, "batch-data/*.csv"))
        batch_data_set = batch_data_set.register(
            workspace=ws, name="batch-data", description="batch data", create_new_version=True
        )
        print(f"dataset {batch_data_set.name} version {batch_data_set.version}: {len(batch_data_set.to_path())} files")

        step("The batch pipeline (ParallelRunStep), run, waited on, its output read with pandas, as in the seeds")
        pipeline_run = run_batch_pipeline(ws, scratch)

        step("Publishing the pipeline, starting it over REST, and the weekly schedule (the seeds' last snippets)")
        schedule = publish_and_schedule(ws, pipeline_run)
        # No start_time: the first run is due at once (as in Azure ML), then weekly. The schedules timer fires every
        # minute; the host's admin API runs it now, as `func` hosts allow for any non-HTTP function.
        requests.post(f"{host.base_url}/admin/functions/run_schedules", json={"input": ""})
        first = schedule.get_last_pipeline_run()
        while first is None:
            time.sleep(0.5)
            first = schedule.get_last_pipeline_run()
        print(f"the schedule started run {first.id}: {first.wait_for_completion(show_output=False)}")

        step("What the host logged")
        for line in host.logs().splitlines():
            if "Executed 'Functions." in line and not any(
                f"Functions.{poll}'" in line for poll in ("get_service", "get_run")
            ):
                print(f"  {line.strip()}")

    print("\nDemo finished; the host and Azurite have stopped. Start your own with `.venv/bin/fninfer start`.")


if __name__ == "__main__":
    main()
