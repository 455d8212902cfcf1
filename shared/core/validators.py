"""The checks every input goes through before the domain keeps it: names, paths, text, string maps and key lists.

The app (`shared/`, behind `functions/`) and the SDK (`fninfer/`) check what a caller gives with these functions, so
one rule has one wording wherever it applies; each refusal is an `InvalidInput` naming the `field` at fault.

Storage paths built from these names are `shared/core/layout.py`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.core.errors import InvalidInput

TagMap = dict[str, str | None]

# -- names and paths users choose ---------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


def validate_name(kind: str, name: object) -> str:
    """Accept a model/dataset/service name; refuse path characters, '..', empty or over-long names."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise InvalidInput(
            f"{kind} name {name!r} is not valid: use 1-255 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit, with no '/', '\\' or '..'",
            field="name",
        )
    return name


def validate_display_name(kind: str, name: object) -> str:
    """Accept a name that is only shown (a pipeline step's name): any non-empty text, as Azure ML accepts it. Such
    a name never becomes a storage path or an id as it is; `layout.derived_name` makes one from it."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{kind} name {name!r} is not valid: give a non-empty string", field="name")
    return name


def validate_relative_path(path: object) -> str:
    """Accept a relative blob path inside a prefix (no leading '/', no '..' segments, no backslashes)."""
    if (
        not isinstance(path, str)
        or not path
        or _has_control_characters(path)
        or path.startswith("/")
        or "\\" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise InvalidInput(f"path {path!r} is not a valid relative path", field="path")
    return path


def _has_control_characters(text: str) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def validate_datastore_path(path: object, field: str = "path", allow_empty: bool = False) -> str:
    """The one rule for a path on a datastore (a dataset's pattern, an upload's target, a partition folder), applied
    by the SDK before any request and again by the app: no NUL or other control characters (a NUL in a blob name
    poisons every later listing of its folder), no backslashes and no '..' segments. Leading and trailing '/' are
    dropped; globs are allowed. Returns the path as stored."""
    if not isinstance(path, str):
        raise InvalidInput(f"{field} {path!r} must be a string", field=field)
    if _has_control_characters(path) or "\\" in path or ".." in path.split("/"):
        raise InvalidInput(
            f"{field} {path!r} is not a valid datastore path: it must not contain control characters (NUL, newline, "
            "...), backslashes or '..' segments",
            field=field,
        )
    stripped = path.strip("/")
    if not stripped and not allow_empty:
        raise InvalidInput(f"{field} {path!r} is empty: name a file, a folder or a pattern", field=field)
    return stripped


# -- tags and properties as Azure ML keeps them -----------------------------------------------------------------------
#
# Azure ML takes any value and gives it back as a string: its SDK converts every value that is not a string (or None)
# with `str()` before sending it (azureml's `_sanitize_tags`: `{'mse': 3021.5}` is stored as `{'mse': '3021.5'}`,
# `True` as `'True'`), and None stays None (a tag with no value, as `run.tag('candidate')` sets). `string_map` does
# that for every tag and property map of the registry, on both sides: the SDK, before it sends a map, and the app,
# for a map a client sent as JSON.


def _text(value: object) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def string_map(value: object, field: str = "tags") -> TagMap:
    """`value` (a mapping, or None for none) as Azure ML stores it: each key and each value that is not a string
    (or None) converted with `str()`. Anything but a mapping is refused, naming `field`; so is a key that is None
    or empty (Azure ML's service refuses those too)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"'{field}' must be a dictionary of names to values, not {type(value).__name__}", field=field
        )
    converted: TagMap = {}
    for key, item in value.items():
        name = _text(key)
        if not name:
            raise InvalidInput(f"'{field}' has an empty or missing key ({key!r})", field=field)
        converted[name] = _text(item)
    return converted


def key_list(value: object, field: str = "tags") -> list[str]:
    """Keys to remove, as Azure ML takes them: a list of names, or one name."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set) or not all(isinstance(item, str) for item in items):
        raise InvalidInput(f"'{field}' must be a key or a list of keys, not {value!r}", field=field)
    return list(items)
