"""Run a script as `python script.py args...` would, with `fninfer.install_as_azureml()` first (v1 code as it is),
and record each line of the project's files that ran and each that raised: what `fninfer check`'s verdicts are
compared with (tests/integration/test_check_against_running.py).

    python tests/line_fates.py PROJECT_DIR OUT.json SCRIPT [ARGS...]

OUT.json: {"ran": [[file, line], ...], "raised": [[file, line], ...], "error": "..." or null}. A line "raised" when
an exception passed through it in a frame of a project file (raised there, or by a call it made), caught or not.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

import fninfer


def main() -> None:
    project, out, script, *arguments = sys.argv[1:]
    root = str(Path(project).resolve()) + os.sep
    ran: set[tuple[str, int]] = set()
    raised: set[tuple[str, int]] = set()

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        where = (frame.f_code.co_filename, frame.f_lineno)
        if event == "line":
            ran.add(where)
        elif event == "exception":
            raised.add(where)
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(root) else None

    fninfer.install_as_azureml()
    sys.argv = [script, *arguments]
    sys.path.insert(0, str(Path(script).resolve().parent))
    error = None
    sys.settrace(calls)
    try:
        runpy.run_path(str(Path(script).resolve()), run_name="__main__")
    except BaseException:  # the script's own failure is a fate too
        error = traceback.format_exc()
    finally:
        sys.settrace(None)
    Path(out).write_text(json.dumps({"ran": sorted(ran), "raised": sorted(raised), "error": error}))


if __name__ == "__main__":
    main()
