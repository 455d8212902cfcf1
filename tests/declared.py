"""The functions `function_app.py` declares, indexed once per test process.

azure-functions' `FunctionApp.get_functions()` checks names against every earlier call on the same app, so a second
call fails with "does not have a unique function name"; tests that need the declared functions share this one call.
"""

from __future__ import annotations

import functools

from azure.functions.decorators.core import Trigger
from azure.functions.decorators.function_app import Function

from function_app import app


@functools.cache
def declared_functions() -> tuple[Function, ...]:
    return tuple(app.get_functions())


def http_triggers() -> list[tuple[Function, Trigger]]:
    """The HTTP-triggered functions with their triggers, in registration order."""
    found = []
    for function in declared_functions():
        trigger = function.get_trigger()
        if trigger.get_binding_name() == "httpTrigger":
            found.append((function, trigger))
    return found
