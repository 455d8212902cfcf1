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

from train_model import train, write_batch_files  # noqa: E402

from fninfer.core import Dataset, Model, Workspace  # noqa: E402
from fninfer.testing import run_host  # noqa: E402


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

        step("What the host logged")
        for line in host.logs().splitlines():
            if "Executed 'Functions." in line:
                print(f"  {line.strip()}")

    print("\nDemo finished; the host and Azurite have stopped. Start your own with `.venv/bin/fninfer start`.")


if __name__ == "__main__":
    main()
