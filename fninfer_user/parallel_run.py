"""`fninfer_user.parallel_run`, mirroring `azureml_user.parallel_run`: `EntryScript` for a ParallelRunStep script.

    from fninfer_user.parallel_run import EntryScript

    def run(mini_batch):
        logger = EntryScript().logger
        logger.info("scoring %d rows", len(mini_batch))

Inside a run, `logger` writes into the mini-batch's log (shown by `get_details_with_logs()`, and by
`wait_for_completion` when the run fails), at the step's `logging_level`. `output_dir` is a local folder whose files
are uploaded to the step's output folder after each mini-batch (what a `summary_only` script writes its results to);
`working_dir` is a local scratch folder of the run. `node_id` is the host instance, `process_name` the worker
process, as Azure ML names its nodes and processes. Outside a run (a script tried locally) they are a logger named
after the script and folders under the current directory.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from shared.pipelines.batch.entry_script import current_context

__all__ = ["EntryScript"]


class EntryScript:
    """Mirrors `azureml_user.parallel_run.EntryScript`."""

    @property
    def logger(self) -> logging.Logger:
        context = current_context()
        return context.logger if context is not None else logging.getLogger("EntryScript")

    @property
    def output_dir(self) -> str:
        context = current_context()
        return str(context.output_dir if context is not None else _local("outputs"))

    @property
    def working_dir(self) -> str:
        context = current_context()
        return str(context.working_dir if context is not None else _local("working"))

    @property
    def node_id(self) -> str:
        context = current_context()
        return context.node_id if context is not None else socket.gethostname()

    @property
    def process_name(self) -> str:
        context = current_context()
        return context.process_name if context is not None else f"process{os.getpid():03d}"

    @property
    def step_name(self) -> str | None:
        context = current_context()
        return context.step_name if context is not None else None


def _local(name: str) -> Path:
    folder = Path.cwd() / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
