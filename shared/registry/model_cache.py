"""Models on local disk for entry scripts: downloaded once per version, verified against the registered sha256.

`Model.get_model_path` lands here. The cache folder for `name:version` appears only complete and verified: files are
downloaded into a temporary sibling, each checked against the sha256 in the registry record, and the folder is
renamed into place. A blob changed after registration fails the check, and the model is refused.

A cached version is `<root>/<name>/<version>/` holding the model's files and `.fninfer-model.json` (its registry
record, written last, so its presence means "complete and verified"). A packaged app carries such a root beside its
code (`fninfer package --include-model`, see layout.PACKAGED_MODELS_DIR), or the app setting `AZUREML_MODEL_DIR`
names one; `get_model_path` prefers such a copy, without reaching storage, once its files hash to the sha256 in their
record (a copy that does not is skipped). Building that root is `cached_model_path(storage, record, root)`.

`AZUREML_MODEL_DIR` has a second meaning, Azure ML's: inside a service's or a batch step's code it is the folder of
the models deployed with it (`deployment_model_dir`, entered by `deployed_models`). The two never mix:
this module reads the app setting from the process environment (`scoped_environ.process_environ`), never a
deployment's own value, and a deployment's folder holds links named `<name>/<version>/<file>`, without record files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.core import layout, scoped_environ, validators
from shared.core.errors import FninferError, IntegrityError, InvalidInput
from shared.core.hashing import combined_sha256, folder_matches, sha256_chunks
from shared.core.scoped_environ import process_environ
from shared.core.settings import MODEL_CACHE_DIR, MODEL_DIR_SETTING, get_setting
from shared.core.storage import Storage, app_storage, storage_errors
from shared.registry.models import ModelRecord, content_blob, deployed_versions, get_model

log = logging.getLogger("fninfer.models")

#: The registry record of a complete, verified cached version (see the module docstring).
RECORD_FILE = ".fninfer-model.json"


def cache_root() -> Path:
    configured = get_setting(MODEL_CACHE_DIR)
    return Path(configured) if configured else Path.home() / ".cache" / "fninfer" / "models"


def model_path(record: ModelRecord, folder: Path) -> Path:
    """What an entry script gets for a cached model folder: the file itself for a one-file model."""
    if record.get("single_file"):
        return folder / record["files"][0]["path"]
    return folder


def download_verified(storage: Storage, record: ModelRecord, target: Path) -> None:
    """Download every file of `record` into `target` (which must not exist), verifying each sha256."""
    container = storage.container(layout.MODELS_CONTAINER)
    for item in record["files"]:
        destination = target / item["path"]
        destination.parent.mkdir(parents=True, exist_ok=True)
        with storage_errors(f"model {record['name']}:{record['version']} file {item['path']!r}"):
            stream = container.download_blob(content_blob(record, item["path"]))
            with destination.open("wb") as handle:

                def write(chunks: Any, out: Any = handle) -> Any:
                    for chunk in chunks:
                        out.write(chunk)
                        yield chunk

                digest, _ = sha256_chunks(write(stream.chunks()))
        if digest != item["sha256"]:
            raise IntegrityError(
                f"model {record['name']}:{record['version']} file {item['path']!r} does not match the sha256 "
                f"recorded at registration (expected {item['sha256']}, got {digest}): "
                "its blob was changed after registration, so the model is refused",
                model=record["name"],
                version=record["version"],
                file=item["path"],
            )


def _verified_record(folder: Path) -> ModelRecord | None:
    """The record a cached version was verified against, or None when the folder is absent or incomplete."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    written = isinstance(record, dict) and "sha256" in record  # a ModelRecord, as cached_model_path writes it
    return record if written else None


def cached_model_path(storage: Storage, record: ModelRecord, root: Path | None = None) -> Path:
    """The verified local path of a model version, downloading it on first use."""
    folder = (root or cache_root()) / record["name"] / str(record["version"])
    cached = _verified_record(folder)
    if cached is not None and cached["sha256"] == record["sha256"]:
        return model_path(record, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{record['version']}-", dir=folder.parent))
    try:
        download_verified(storage, record, staging)
        (staging / RECORD_FILE).write_text(json.dumps(record))
        _move_into_place(staging, folder, record["sha256"])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model_path(record, folder)


def _move_into_place(staging: Path, folder: Path, sha256: str) -> None:
    """Rename a verified download to `folder`. A copy another caller finished first is kept (it may be in use);
    a stale one (a deleted and re-registered version, or a crash's leftovers) is renamed aside before it is removed,
    so no reader ever sees a folder half deleted."""
    for _ in range(3):
        try:
            os.replace(staging, folder)  # atomic; fails when `folder` exists and is not empty
            return
        except OSError:
            finished = _verified_record(folder)
            if finished is not None and finished["sha256"] == sha256:
                return
            stale = folder.with_name(f".{folder.name}-stale-{os.getpid()}-{time.monotonic_ns()}")
            try:
                os.replace(folder, stale)
            except FileNotFoundError:
                continue  # another caller moved it aside first
            shutil.rmtree(stale, ignore_errors=True)
    raise FninferError(f"could not place the cached model at {folder}: other processes keep replacing it")


def preplaced_roots() -> list[Path]:
    """Where models placed beside the code are: AZUREML_MODEL_DIR when set, and the models `fninfer package` baked
    into the app."""
    configured = get_setting(MODEL_DIR_SETTING, environ=process_environ())  # the app setting, not a service's
    roots = [Path(configured)] if configured else []
    return [*roots, layout.app_root() / layout.PACKAGED_MODELS_DIR]


#: Pre-placed folders whose content was hashed and found to match their record, by path (hashing once per process).
_checked: dict[Path, bool] = {}
_checked_lock = threading.Lock()


def content_matches(folder: Path, record: ModelRecord) -> bool:
    """Whether every file of `record` is in `folder` with its recorded sha256 (and the files make up the model's
    recorded sha256): a baked copy that was changed or cut short is not used."""
    with _checked_lock:
        known = _checked.get(folder)
    if known is not None:
        return known
    combined = combined_sha256((item["path"], item["sha256"]) for item in record["files"])
    matches = combined == record["sha256"] and folder_matches(folder, record["files"])
    with _checked_lock:
        _checked[folder] = matches
    return matches


def preplaced_model_path(name: str, version: int | None = None) -> Path | None:
    """The path of `name` (at `version`, else its highest) placed beside the code (see `preplaced_roots`), after
    checking its content against its sha256; None when there is no such copy, or it does not match (then the caller
    falls back to the registry, and the mismatch is logged)."""
    placed = _preplaced(name, version)
    return model_path(*placed) if placed is not None else None


def _preplaced(name: str, version: int | None) -> tuple[ModelRecord, Path] | None:
    """The record and folder of a matching copy of `name` placed beside the code (see `preplaced_model_path`)."""
    validators.validate_name("model", name)
    for root in preplaced_roots():
        model_folder = root / name
        if not model_folder.is_dir():
            continue
        versions = sorted(int(p.name) for p in model_folder.glob("*") if p.name.isdigit())
        wanted = version if version is not None else (versions[-1] if versions else None)
        if wanted is None or wanted not in versions:
            continue
        folder = model_folder / str(wanted)
        record = _verified_record(folder)
        if record is None:
            raise InvalidInput(f"{folder} has no {RECORD_FILE}: it is not a model placed by fninfer")
        if content_matches(folder, record):
            return record, folder
        log.warning(
            "The model copy at %s does not match its sha256 %s; using the registry instead", folder, record["sha256"]
        )
    return None


#: Under the cache root: one folder per set of deployed models, what their code sees as AZUREML_MODEL_DIR.
DEPLOYMENTS_DIR = ".deployments"


def _model_folder(storage: Callable[[], Storage], name: str, version: int) -> Path:
    """The verified local folder of `name:version`: a copy placed beside the code, else the model cache."""
    placed = _preplaced(name, version)
    if placed is not None:
        return placed[1]
    record = get_model(storage(), name, version)
    cached_model_path(storage(), record)
    return cache_root() / name / str(version)


def deployment_model_dir(storage: Callable[[], Storage], versions: Mapping[str, int]) -> Path:
    """AZUREML_MODEL_DIR for code deployed with `versions` ({name: version}), with Azure ML's layout: a folder of
    `<name>/<version>/<the model's files>` (folders, and links to the verified copies' files); the `<name>/<version>`
    folder itself when there is one model. Built once per set of models and folders, atomically (a rename)."""
    folders = {(name, version): _model_folder(storage, name, version) for name, version in sorted(versions.items())}
    identity = json.dumps([[name, version, str(folder)] for (name, version), folder in folders.items()])
    root = cache_root() / DEPLOYMENTS_DIR / hashlib.sha256(identity.encode()).hexdigest()[:24]
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=root.parent))
        try:
            for (name, version), folder in folders.items():
                target = staging / name / str(version)
                target.mkdir(parents=True)
                # Real folders and a link per file, so os.walk (which does not follow folder links) sees it all.
                for entry in sorted(folder.rglob("*")):
                    relative = entry.relative_to(folder)
                    if relative.as_posix() == RECORD_FILE:
                        continue
                    if entry.is_dir():
                        (target / relative).mkdir(parents=True, exist_ok=True)
                    else:
                        (target / relative).parent.mkdir(parents=True, exist_ok=True)
                        (target / relative).symlink_to(entry.resolve())
            os.replace(staging, root)
        except OSError:
            if not root.is_dir():  # not "another caller placed the same folder first"
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if len(folders) == 1:
        (name, version), _ = next(iter(folders.items()))
        return root / name / str(version)
    return root


@dataclass(frozen=True)
class _Deployment:
    """What code deployed with a set of models sees: their versions, and its environment (`AZUREML_MODEL_DIR`)."""

    versions: dict[str, int]
    environ: dict[str, str]


#: Deployments prepared in this process, by their model ids (preparing places the models once; entering is cheap).
_prepared: dict[tuple[str, ...], _Deployment] = {}
_prepared_lock = threading.Lock()


def _prepare(model_ids: tuple[str, ...], storage: Storage | None) -> _Deployment:
    versions = {}
    for model_id in model_ids:
        name, _, version = model_id.partition(":")
        versions[name] = int(version)
    environ = {}
    if versions:
        environ[MODEL_DIR_SETTING] = str(deployment_model_dir(lambda: storage or app_storage(), versions))
    scoped_environ.install()
    with _prepared_lock:  # two first uses at once place the same folders (atomically): either result will do
        return _prepared.setdefault(model_ids, _Deployment(versions, environ))


@contextlib.contextmanager
def deployed_models(model_ids: Iterable[str], storage: Storage | None = None) -> Iterator[None]:
    """Run the block as code deployed with `model_ids` ('name:version') runs: `deployed_version(name)` answers from
    them, and `os.environ['AZUREML_MODEL_DIR']` is their folder with Azure ML's layout (one model: its
    `<name>/<version>` folder holding its files; several: the folder holding `<name>/<version>/...` of each). The
    value is this block's own (a contextvar), so services called at once each see theirs. The first use in a process
    places the models from the verified model cache (downloading from `storage`, else the app's, when needed)."""
    key = tuple(model_ids)
    deployment = _prepared.get(key) or _prepare(key, storage)
    with deployed_versions(deployment.versions), scoped_environ.scoped(deployment.environ):
        yield
