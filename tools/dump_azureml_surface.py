"""Write the real Azure ML SDK v1's public surface as JSON: fninfer_cli/data/azureml_surface.json.

Run it with the interpreter of a virtualenv where azureml-core, azureml-pipeline-core, azureml-pipeline-steps,
azureml-contrib-pipeline-steps and azureml-contrib-services are installed (the compat tool's reference venv, with
`pip install azureml-contrib-services` added), handing it the compat tool's compare_api.py, whose `dump` describes
names, kinds and signatures:

    ~/.cache/fninfer/azureml-reference/bin/python tools/dump_azureml_surface.py \
        ../shared/tools/azureml-compat/compare_api.py > fninfer_cli/data/azureml_surface.json

The modules described are the azureml counterparts of fninfer's public modules plus the ones v1 code commonly
imports that fninfer does not mirror, so `fninfer check` can tell "not in fninfer" from "not in azureml". Every
public name of each module is described (classes with all their public members), so the data needs no azureml
install to be read.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import warnings

#: The azureml modules described: fninfer's public modules' counterparts and the rest of what v1 code imports.
MODULES = (
    "azureml.contrib.pipeline.steps",
    "azureml.contrib.services.aml_request",
    "azureml.contrib.services.aml_response",
    "azureml.core",
    "azureml.core.authentication",
    "azureml.core.compute",
    "azureml.core.compute_target",
    "azureml.core.conda_dependencies",
    "azureml.core.dataset",
    "azureml.core.datastore",
    "azureml.core.environment",
    "azureml.core.experiment",
    "azureml.core.image",
    "azureml.core.keyvault",
    "azureml.core.model",
    "azureml.core.profile",
    "azureml.core.resource_configuration",
    "azureml.core.run",
    "azureml.core.runconfig",
    "azureml.core.script_run_config",
    "azureml.core.webservice",
    "azureml.core.workspace",
    "azureml.data",
    "azureml.data.azure_storage_datastore",
    "azureml.data.data_reference",
    "azureml.data.datapath",
    "azureml.data.dataset_consumption_config",
    "azureml.data.dataset_factory",
    "azureml.data.dataset_type_definitions",
    "azureml.data.file_dataset",
    "azureml.data.output_dataset_config",
    "azureml.data.tabular_dataset",
    "azureml.exceptions",
    "azureml.pipeline.core",
    "azureml.pipeline.core.graph",
    "azureml.pipeline.core.pipeline_endpoint",
    "azureml.pipeline.core.run",
    "azureml.pipeline.core.schedule",
    "azureml.pipeline.steps",
)


def main(compare_api_path: str) -> int:
    spec = importlib.util.spec_from_file_location("compare_api", compare_api_path)
    assert spec is not None and spec.loader is not None
    compare_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare_api)
    warnings.simplefilter("ignore")
    real_stdout, sys.stdout = sys.stdout, sys.stderr  # whatever imports print must not corrupt the JSON
    out: dict[str, object] = {"python": sys.version.split()[0], "versions": {}, "modules": {}, "targets": {}}
    for distribution in ("azureml-core", "azureml-pipeline-core", "azureml-pipeline-steps"):
        from importlib.metadata import version

        out["versions"][distribution] = version(distribution)  # type: ignore[index]
    for module_name in MODULES:
        exported = compare_api.exported_names(module_name)
        out["modules"][module_name] = exported  # type: ignore[index]
        for name in exported.get("names", []):
            target = f"{module_name}:{name}"
            try:
                out["targets"][target] = compare_api.resolve(target)  # type: ignore[index]
            except Exception as exc:  # a name that cannot be described is recorded as such
                out["targets"][target] = {"kind": "missing", "why": f"{type(exc).__name__}: {exc}"}  # type: ignore[index]
    sys.stdout = real_stdout
    json.dump(out, sys.stdout, indent=None, sort_keys=True, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
