"""What runs in a script step's child process: `python -m shared.pipelines.scripts.script_host <script> <arguments...>`.

It runs the script as `python <script> <arguments...>` would (as `__main__`, its folder first on sys.path), and
ends the process if the host instance that started it dies: a killed instance's script must not go on logging,
registering or writing after another instance has taken the step over.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time

from shared.core import azureml_alias

#: The pid of the host instance that started this process (set by script_step.py).
PARENT_PID_VARIABLE = "FNINFER_STEP_PARENT_PID"
#: Exit status when the parent is gone (as a process killed by SIGKILL shows it).
ORPHANED_EXIT = 137


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(ORPHANED_EXIT)


def main() -> None:
    parent = os.environ.get(PARENT_PID_VARIABLE)
    if parent:
        threading.Thread(target=_exit_with_parent, args=(int(parent),), daemon=True).start()
    script, *arguments = sys.argv[1:]
    sys.argv = [script, *arguments]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    azureml_alias.activate()  # the script may keep its azureml imports
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
