"""`make lint`'s copy of the app for azure-functions-doctor: the files the zip holds (.funcignore, as
fninfer_cli.packaging.files reads it) and infra/, whose app settings (AzureWebJobsStorage__accountName, ...) the
bindings' connections resolve to. The doctor walks every folder of the one it judges, .venv and node_modules
included, before it leaves them out: on the project folder that walk is most of its time.

    python tools/doctor_copy.py <folder>      # emptied first
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from fninfer_cli.packaging.files import app_files

ROOT = Path(__file__).resolve().parents[1]


def copy_app(destination: Path) -> None:
    shutil.rmtree(destination, ignore_errors=True)
    for relative in app_files(ROOT):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    shutil.copytree(ROOT / "infra", destination / "infra")


if __name__ == "__main__":
    copy_app(Path(sys.argv[1]))
