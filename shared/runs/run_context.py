"""Which run the code running here belongs to: what `Run.get_context()` answers inside fninfer.

The batch engine (around an entry script's `init()` and `run()`) and script steps (around a script) enter
`activate(...)`; inside it `current()` names the run, its experiment and its parent, and what the code logs, tags or
uploads is kept under that run id (`shared/runs/run_history.py`). A context variable, not a global: several invocations
run at once on one host instance, each in its own thread with its own context.

Code that leaves the process (a script step run as a subprocess) carries the context in Azure ML's own environment
variables (`environment(context)`); `Run.get_context()` there reads them back.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from shared.core import validators
from shared.core.storage import Storage
from shared.runs import run_history

#: Azure ML's names for the run a process belongs to (`azureml.core.Run._load_scope` reads the same), plus the parent.
RUN_ID_VARIABLE = "AZUREML_RUN_ID"
EXPERIMENT_VARIABLE = "AZUREML_ARM_PROJECT_NAME"
PARENT_RUN_ID_VARIABLE = "AZUREML_PARENT_RUN_ID"
#: A script step's tabular inputs, as JSON, for `Run.get_context().input_datasets` (fninfer's own).
INPUT_DATASETS_VARIABLE = "FNINFER_INPUT_DATASETS"


@dataclass(frozen=True)
class RunContext:
    run_id: str
    experiment_name: str
    parent_run_id: str | None = None
    name: str | None = None  # a step's name, when the run is a step run
    #: Where the run's history is kept: the storage it was activated with (None: carried in from the environment).
    storage: Storage | None = field(default=None, compare=False, repr=False)


_current: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar("fninfer_run_context", default=None)


@contextmanager
def activate(
    storage: Storage,
    run_id: str,
    experiment_name: str,
    parent_run_id: str | None = None,
    name: str | None = None,
) -> Iterator[RunContext]:
    """Within the block, `current()` is this run, whose history is kept in `storage` (the app's). The run is
    recorded in the history once (whoever activates it first), so `Run(experiment, run_id)` finds it from outside."""
    context = RunContext(
        run_id=validators.validate_name("run", run_id),
        experiment_name=validators.validate_name("experiment", experiment_name),
        parent_run_id=None if parent_run_id is None else validators.validate_name("run", parent_run_id),
        name=name,
        storage=storage,
    )
    run_history.record_run(storage, context.run_id, context.experiment_name, context.parent_run_id, context.name)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def bind(context: RunContext | None) -> None:
    """Make `context` (activated already, so recorded) current for the rest of this thread's life: for a thread
    started to carry on an activated block's work, such as the one that calls an entry script's run(). A new thread
    starts with no context, so nothing else sees it."""
    _current.set(context)


def current() -> RunContext | None:
    """The run activated around the code running now, or None outside any."""
    return _current.get()


def environment(context: RunContext) -> dict[str, str]:
    """The variables that carry `context` into a child process."""
    variables = {RUN_ID_VARIABLE: context.run_id, EXPERIMENT_VARIABLE: context.experiment_name}
    if context.parent_run_id is not None:
        variables[PARENT_RUN_ID_VARIABLE] = context.parent_run_id
    return variables
