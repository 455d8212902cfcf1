"""Every container, blob path and queue name fninfer uses, in one place.

The app (`functions/`, `shared/`) and the SDK (`fninfer/`) build storage names through these functions, never by
hand; `tests/unit/test_layout.py` pins them, so a rename is a deliberate diff. The names and paths users give are
checked by `shared/core/validators.py` before any of them becomes part of a storage name.

    fninfer-registry/                         JSON records (the registry's truth)
        models/<name>/<version:010d>.json     one record per model version
        datasets/<name>/<version:010d>.json   one record per dataset version
        datastores/<name>.json                registered datastores besides the default
        environments/<name>/<version:010d>.json  one record per environment version
        versioncounters/<kind>s/<name>.json   the highest version ever given to a name (never reused after a delete)
        workspace/default-datastore.json      which datastore `get_default_datastore()` returns, once set
        computetargets/<name>.json            compute targets as v1 code creates them (records: no provisioning)
        experiments/<name>.json               an experiment: its id, tags, archived time
        experimentruns/<name>/<run id>        one empty marker per run recorded in the run history (Run.list)
        workspace/details.json                the workspace's friendly name, description, tags and connections
    fninfer-models/                           model content, written once by the SDK, never overwritten
        <name>/<upload id>/<relative path>
    fninfer-datastore/                        the default datastore, `workspaceblobstore`
"""

from __future__ import annotations

import re
from pathlib import Path

from shared.core.errors import InvalidInput
from shared.core.validators import validate_datastore_path, validate_name, validate_relative_path

# -- containers -------------------------------------------------------------------------------------------------

REGISTRY_CONTAINER = "fninfer-registry"
MODELS_CONTAINER = "fninfer-models"
DEFAULT_DATASTORE_CONTAINER = "fninfer-datastore"
DEFAULT_DATASTORE_NAME = "workspaceblobstore"

# -- names made from shown ones (the rules for names users give: shared/core/validators.py) ---------------------


def derived_name(display_name: str) -> str:
    """A name `validate_name` accepts, made from free text (a step's display name): each run of other characters
    becomes '_', and one that does not start with a letter or digit is prefixed. The one place fninfer derives a
    storage-safe name from a shown one."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", display_name.strip()).replace("..", "_")
    if not name or not name[0].isalnum():
        name = "n" + name
    return name[:255]


def partitioned_upload_folder(target_folder: str, upload_id: str) -> str:
    """Where `partition_by` writes a dataset's partitions on its target datastore folder: a new folder per call."""
    return "/".join(filter(None, [target_folder.strip("/"), validate_name("upload", upload_id)]))


def converted_dataset_folder(upload_id: str) -> str:
    """Where `TabularDataset.to_csv_files()` / `to_parquet_files()` write the rows, on the dataset's datastore."""
    return f"fninfer-converted/{validate_name('upload', upload_id)}"


def partition_file(upload_folder: str, values: list[str]) -> str:
    """One partition's Parquet file, `<upload folder>/<value>/.../part-00000.parquet` (Hive-less, as Azure ML
    writes them: `partition_format` reads the values back)."""
    return "/".join(
        [upload_folder, *(validate_datastore_path(v, "partition value") for v in values), "part-00000.parquet"]
    )


def datastore_folder_prefix(folder: str) -> str:
    """The blob name prefix of everything below a datastore folder (`data/in` -> `data/in/`; the container's root
    -> ``)."""
    stripped = folder.strip("/")
    return f"{stripped}/" if stripped else ""


# -- model registry ---------------------------------------------------------------------------------------------

VERSION_WIDTH = 10
MODELS_PREFIX = "models/"


def model_versions_prefix(name: str) -> str:
    return f"{MODELS_PREFIX}{validate_name('model', name)}/"


def model_record(name: str, version: int) -> str:
    return f"{model_versions_prefix(name)}{version:0{VERSION_WIDTH}d}.json"


def version_from_record(path: str) -> int:
    """The version number of a `.../<version:010d>.json` record path."""
    return int(path.rsplit("/", 1)[1].removesuffix(".json"))


def versions_folder(record_path: str) -> str:
    """The folder of a versioned record (`models/m/0000000003.json` -> `models/m`): one per name."""
    return record_path.rsplit("/", 1)[0]


def latest_records(record_paths: list[str]) -> list[str]:
    """The newest record of each name among `<kind>s/<name>/<version>.json` paths, by name (versions are
    zero-padded, so the lexicographically last of a folder is its latest)."""
    newest: dict[str, str] = {}
    for path in sorted(path for path in record_paths if path.endswith(".json")):
        newest[versions_folder(path)] = path
    return sorted(newest.values())


def version_counter(record_path: str) -> str:
    """The counter of the versions given under a record's folder (`models/m/0000000003.json` ->
    `versioncounters/models/m.json`): it only grows, so a deleted version's number is never given again."""
    return f"versioncounters/{versions_folder(record_path)}.json"


def model_content_prefix(name: str, upload_id: str) -> str:
    return f"{validate_name('model', name)}/{validate_name('upload', upload_id)}/"


def model_upload_claim(name: str, upload_id: str) -> str:
    """Marks an upload as registered, so the same content never backs two versions (deleting one would break both)."""
    return f"uploads/{validate_name('model', name)}/{validate_name('upload', upload_id)}.json"


# -- datasets and datastores ----------------------------------------------------------------------------------


DATASETS_PREFIX = "datasets/"


def dataset_versions_prefix(name: str) -> str:
    return f"{DATASETS_PREFIX}{validate_name('dataset', name)}/"


def dataset_record(name: str, version: int) -> str:
    return f"{dataset_versions_prefix(name)}{version:0{VERSION_WIDTH}d}.json"


def environment_versions_prefix(name: str) -> str:
    return f"{ENVIRONMENTS_PREFIX}{validate_name('environment', name)}/"


def environment_record(name: str, version: int) -> str:
    return f"{environment_versions_prefix(name)}{version:0{VERSION_WIDTH}d}.json"


ENVIRONMENTS_PREFIX = "environments/"
DATASTORES_PREFIX = "datastores/"


def datastore_record(name: str) -> str:
    return f"{DATASTORES_PREFIX}{validate_name('datastore', name)}.json"


DEFAULT_DATASTORE_RECORD = "workspace/default-datastore.json"
COMPUTE_TARGETS_PREFIX = "computetargets/"


def compute_target_record(name: str) -> str:
    return f"{COMPUTE_TARGETS_PREFIX}{validate_name('compute target', name)}.json"


# -- real-time services --------------------------------------------------------------------------------------------
#
#    fninfer-registry/services/<name>.json         the service record (state, spec, key hashes, code version)
#    fninfer-snapshots/<snapshot id>/<path>        source_directory snapshots, content-addressed by their sha256
#    fninfer-logs/services/<name>/<instance>.log   append blobs: what init() and run() printed, per host instance
#    queue fninfer-deployments                     one message per deployment, run by a queue-triggered function

SNAPSHOTS_CONTAINER = "fninfer-snapshots"
LOGS_CONTAINER = "fninfer-logs"
DEPLOYMENTS_QUEUE = "fninfer-deployments"
SERVICES_PREFIX = "services/"


def service_record(name: str) -> str:
    return f"{SERVICES_PREFIX}{validate_name('service', name)}.json"


def snapshot_prefix(snapshot_id: str) -> str:
    return f"{validate_name('snapshot', snapshot_id)}/"


def service_logs_prefix(name: str) -> str:
    return f"services/{validate_name('service', name)}/"


def service_log(name: str, instance: str) -> str:
    return f"{service_logs_prefix(name)}{validate_name('instance', instance)}.log"


# Calls to every service, per minute, written by each host instance in the background (shared/services/metrics.py):
#
#    fninfer-logs/metrics/services/now/<instance>.json                the instance's current minute (overwritten)
#    fninfer-logs/metrics/services/minutes/<YYYYmmddHH>/<instance>.jsonl  its completed minutes, a line each (append)

SERVICE_METRICS_NOW_PREFIX = "metrics/services/now/"
SERVICE_METRICS_MINUTES_PREFIX = "metrics/services/minutes/"


def service_metrics_now(instance: str) -> str:
    return f"{SERVICE_METRICS_NOW_PREFIX}{validate_name('instance', instance)}.json"


def service_metrics_hour_prefix(hour: str) -> str:
    """The completed minutes of hour `hour` (UTC, `YYYYmmddHH`), every instance's."""
    if len(hour) != 10 or not hour.isdigit():
        raise InvalidInput(f"hour {hour!r} must be YYYYmmddHH", field="hour")
    return f"{SERVICE_METRICS_MINUTES_PREFIX}{hour}/"


def service_metrics_minutes(hour: str, instance: str) -> str:
    return f"{service_metrics_hour_prefix(hour)}{validate_name('instance', instance)}.jsonl"


# -- batch pipelines (ParallelRunStep) ------------------------------------------------------------------------------
#
#    fninfer-registry/pipelineruns/<run id>.json      the pipeline run: status, definition, step, plan, final counts
#    fninfer-runs/active/<run id>                     runs not yet terminal (what the sweeper looks at)
#    fninfer-runs/reuse/<fingerprint>.json            the Finished run whose step output allow_reuse can take
#    fninfer-runs/<run id>/plan/<plan id>/<page>.json mini-batches, PLAN_PAGE_SIZE per page (lists of input files)
#    fninfer-runs/<run id>/leases/<work item>.json    work in flight (plan, fanin): owner, lease, tries
#    fninfer-runs/<run id>/lanes/<lane>.json          a lane of mini-batches (lane, lane+cap, ...): owner, deaths
#    fninfer-runs/<run id>/lanes/<lane>/<start>.json  the results of the lane's positions start.., created once
#    <output datastore>/azureml/<step run id>/<output name>/parallel_run_step.txt   the step's output folder
#    fninfer-runs/<step run id>/publishing.json     a script step's outputs as its last try began to upload them
#    fninfer-runs/<step run id>/logs/<try>.txt        a script step's stdout and stderr, one file per try
#    queues fninfer-pipeline-plans, fninfer-minibatches, fninfer-fanin, fninfer-script-steps, fninfer-pipeline-steps
#
#    A pipeline run and each of its step runs have a record under pipelineruns/; a step run's record names its
#    parent. A ParallelRunStep's plan, leases, results and progress are keyed by its step run id.

PIPELINE_RUNS_PREFIX = "pipelineruns/"
RUNS_CONTAINER = "fninfer-runs"
ACTIVE_RUNS_PREFIX = "active/"
PLANNING_QUEUE = "fninfer-pipeline-plans"
MINIBATCH_QUEUE = "fninfer-minibatches"
FANIN_QUEUE = "fninfer-fanin"
SCRIPT_STEPS_QUEUE = "fninfer-script-steps"
PIPELINE_STEPS_QUEUE = "fninfer-pipeline-steps"
PLAN_PAGE_SIZE = 1000


def pipeline_run_record(run_id: str) -> str:
    return f"{PIPELINE_RUNS_PREFIX}{validate_name('run', run_id)}.json"


def active_run_marker(run_id: str) -> str:
    return f"{ACTIVE_RUNS_PREFIX}{validate_name('run', run_id)}"


#    fninfer-runs/runindex/<inverted created time>-<run id>   every pipeline run (not its step runs), newest first,
#                                                             its summary in the blob's metadata (run_index.py)
RUN_INDEX_PREFIX = "runindex/"
REUSE_PREFIX = "reuse/"
#: Microseconds since the epoch are subtracted from this, so that later runs sort first (17 digits until year 5138).
RUN_INDEX_EPOCH_LIMIT = 10**17 - 1


def run_index_entry(created_microseconds: int, run_id: str) -> str:
    return f"{RUN_INDEX_PREFIX}{RUN_INDEX_EPOCH_LIMIT - created_microseconds:017d}-{validate_name('run', run_id)}"


def run_from_index_entry(name: str) -> str:
    return name[len(RUN_INDEX_PREFIX) :].split("-", 1)[1]


def reuse_record(fingerprint: str) -> str:
    return f"{REUSE_PREFIX}{validate_name('fingerprint', fingerprint)}.json"


def plan_page(run_id: str, plan_id: str, page: int) -> str:
    return f"{validate_name('run', run_id)}/plan/{validate_name('plan', plan_id)}/{page:06d}.json"


def leases_prefix(run_id: str) -> str:
    return f"{validate_name('run', run_id)}/leases/"


def work_lease(run_id: str, item: str) -> str:
    return f"{leases_prefix(run_id)}{validate_name('work item', item)}.json"


def lanes_prefix(run_id: str) -> str:
    return f"{validate_name('run', run_id)}/lanes/"


def lane_prefix(run_id: str, lane: int) -> str:
    """What the names of a lane's record and chunks (and nothing else) start with."""
    return f"{lanes_prefix(run_id)}{lane:05d}"


def lane_record(run_id: str, lane: int) -> str:
    return f"{lane_prefix(run_id, lane)}.json"


def lane_chunk(run_id: str, lane: int, start: int) -> str:
    """The results of lane `lane`'s positions from `start` on (its mini-batches lane + cap x position)."""
    return f"{lane_prefix(run_id, lane)}/{start:010d}.json"


def lane_blob(run_id: str, name: str) -> tuple[int, int | None]:
    """(lane, chunk start) of a blob under lanes_prefix(run_id); the start is None for the lane's record."""
    lane, _, chunk = name[len(lanes_prefix(run_id)) :].removesuffix(".json").partition("/")
    return int(lane), int(chunk) if chunk else None


def script_step_publishing(step_run_id: str) -> str:
    return f"{validate_name('run', step_run_id)}/publishing.json"


def script_step_log(step_run_id: str, attempt: int) -> str:
    return f"{validate_name('run', step_run_id)}/logs/{attempt:03d}.txt"


def script_step_logs_prefix(step_run_id: str) -> str:
    return f"{validate_name('run', step_run_id)}/logs/"


def step_output_prefix(step_run_id: str, output_name: str) -> str:
    """Where a step's PipelineData lives on its datastore, as Azure ML lays it out."""
    return f"azureml/{validate_name('run', step_run_id)}/{validate_name('output', output_name)}/"


# -- published pipelines and schedules ------------------------------------------------------------------------------
#
#    fninfer-registry/publishedpipelines/<id>.json     a published pipeline: name, version, status, its definition
#    fninfer-registry/schedules/<id>.json              a schedule: recurrence or data trigger, parameters, status
#    fninfer-runs/schedules/<id>.json                  a schedule's state: what it has fired (and seen, on data)

PUBLISHED_PIPELINES_PREFIX = "publishedpipelines/"
SCHEDULES_PREFIX = "schedules/"
SCHEDULE_STATES_PREFIX = "schedules/"


def published_pipeline_record(pipeline_id: str) -> str:
    return f"{PUBLISHED_PIPELINES_PREFIX}{validate_name('published pipeline', pipeline_id)}.json"


def schedule_record(schedule_id: str) -> str:
    return f"{SCHEDULES_PREFIX}{validate_name('schedule', schedule_id)}.json"


def schedule_state(schedule_id: str) -> str:
    return f"{SCHEDULE_STATES_PREFIX}{validate_name('schedule', schedule_id)}.json"


# -- pipeline endpoints -----------------------------------------------------------------------------------------------
#
#    fninfer-registry/pipelineendpoints/<id>.json        an endpoint: name, status, its versions (published pipeline
#                                                        ids, version "0", "1", ...) and the default version
#    fninfer-registry/pipelineendpointnames/<name>.json  the name's claim ({"id": ...}): names are unique

PIPELINE_ENDPOINTS_PREFIX = "pipelineendpoints/"
PIPELINE_ENDPOINT_NAMES_PREFIX = "pipelineendpointnames/"


def pipeline_endpoint_record(endpoint_id: str) -> str:
    return f"{PIPELINE_ENDPOINTS_PREFIX}{validate_name('pipeline endpoint', endpoint_id)}.json"


def pipeline_endpoint_name(name: str) -> str:
    return f"{PIPELINE_ENDPOINT_NAMES_PREFIX}{validate_name('pipeline endpoint', name)}.json"


# -- run history: what a run logs from inside (`Run.get_context()` in a step or an entry script) ---------------------
#
#    fninfer-runhistory/<run id>/run.json                who the run is: experiment, parent (written on activation)
#    fninfer-runhistory/<run id>/tags.json               tags set with run.tag / set_tags
#    fninfer-runhistory/<run id>/metrics/<part>.jsonl    append blobs: one JSON line per run.log* call, in call order
#    fninfer-runhistory/<run id>/files/<name>            files uploaded with run.upload_file / upload_folder
#    fninfer-runhistory/<run id>/children/<child run id> markers of its child runs (run.child_run, create_children)
#
# Keyed by the same run ids as pipeline runs and their step runs, so PipelineRun and StepRun can show them.

RUN_HISTORY_CONTAINER = "fninfer-runhistory"


def run_history_prefix(run_id: str) -> str:
    return f"{validate_name('run', run_id)}/"


def run_info(run_id: str) -> str:
    return f"{run_history_prefix(run_id)}run.json"


def run_tags(run_id: str) -> str:
    return f"{run_history_prefix(run_id)}tags.json"


def run_metrics_prefix(run_id: str) -> str:
    return f"{run_history_prefix(run_id)}metrics/"


def run_metrics_part(run_id: str, part: int) -> str:
    return f"{run_metrics_prefix(run_id)}{part:06d}.jsonl"


def run_children_prefix(run_id: str) -> str:
    return f"{run_history_prefix(run_id)}children/"


def run_child_marker(run_id: str, child_run_id: str) -> str:
    """An empty marker listing a child run (`run.child_run()`) under its parent."""
    return f"{run_children_prefix(run_id)}{validate_name('run', child_run_id)}"


def run_files_prefix(run_id: str) -> str:
    return f"{run_history_prefix(run_id)}files/"


def run_file(run_id: str, name: str) -> str:
    return f"{run_files_prefix(run_id)}{validate_relative_path(name)}"


EXPERIMENTS_PREFIX = "experiments/"
EXPERIMENT_RUNS_PREFIX = "experimentruns/"
WORKSPACE_DETAILS_RECORD = "workspace/details.json"


def experiment_record(name: str) -> str:
    """An experiment's record, in the registry container."""
    return f"{EXPERIMENTS_PREFIX}{validate_name('experiment', name)}.json"


def experiment_runs_prefix(name: str) -> str:
    return f"{EXPERIMENT_RUNS_PREFIX}{validate_name('experiment', name)}/"


def experiment_run_marker(name: str, run_id: str) -> str:
    """The marker that lists a run (recorded in the run history) under its experiment, in the registry container."""
    return f"{experiment_runs_prefix(name)}{validate_name('run', run_id)}"


def run_artifact_name(name: str, artifact_id: str) -> str:
    """The file `run.log_confusion_matrix` and its kin upload the metric's JSON under, among the run's files."""
    return f"artifacts/{name}-{artifact_id}.json"


def run_image_name(name: str, image_id: str, suffix: str) -> str:
    """The file name `run.log_image` uploads an image under, among the run's files."""
    return f"images/{name}-{image_id}{suffix}"


# -- a packaged app (`fninfer package`) --------------------------------------------------------------------------
#
#    <app root>/azureml-models/<name>/<version>/...   models baked in, each with its .fninfer-model.json record
#    <app root>/fninfer-snapshots/<snapshot id>/...   service code baked in, each with its .complete marker
#    <app root>/.python_packages/lib/site-packages/   the dependencies, where Azure Functions looks for them

PACKAGED_MODELS_DIR = "azureml-models"
PACKAGED_SNAPSHOTS_DIR = "fninfer-snapshots"
PACKAGED_SITE_PACKAGES = ".python_packages/lib/site-packages"


def app_root() -> Path:
    """The folder of the running app: the one holding `function_app.py` and `shared/` (this module is shared/core/)."""
    return Path(__file__).resolve().parents[2]
