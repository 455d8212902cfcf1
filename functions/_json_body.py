"""JSON from callers, parsed so that no document can turn into a 500.

`json.loads` recurses once per nesting level: a body like `[[[[...]]]]` a thousand levels deep raises
RecursionError, and one just under the interpreter's limit parses but breaks whatever recurses over it next (encoding
it again, storing it). Both are the caller's mistake, so both are an InvalidInput (400) naming the limit.
"""

from __future__ import annotations

import json
from typing import Any

from shared.core.errors import InvalidInput

#: Nesting real documents never approach (a scoring batch is 2-4 levels); far below the interpreter's ~1,000.
MAX_DEPTH = 200


def parse_json(text: str | bytes, what: str = "the request body", field: str | None = None) -> Any:
    """The JSON value of `text`; InvalidInput (400) when it is not JSON, not UTF-8, or nested over MAX_DEPTH. The
    error names `what` in its message and `field` (when given) in its details."""
    details = {"field": field} if field else {}
    try:
        document = json.loads(text)
    except RecursionError:
        too_deep = f"{what} is nested too deeply: at most {MAX_DEPTH} levels of arrays and objects"
        raise InvalidInput(too_deep, **details) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}", **details) from exc
    # Counting brackets (fast, in C) bounds the depth from above; only a document that could be too deep is walked.
    brackets = text.count(b"[" if isinstance(text, bytes) else "[") + text.count(
        b"{" if isinstance(text, bytes) else "{"
    )
    if brackets > MAX_DEPTH and nesting_depth(document) > MAX_DEPTH:
        raise InvalidInput(f"{what} is nested too deeply: at most {MAX_DEPTH} levels of arrays and objects", **details)
    return document


def nesting_depth(document: Any) -> int:
    """Levels of arrays and objects in a parsed document, counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
