"""The checks every input goes through before the domain keeps it: names, paths, text, string maps and key lists.

The app (`shared/`, behind `functions/`) and the SDK (`fninfer/`) check what a caller gives with these functions, so
one rule has one wording wherever it applies; each refusal is an `InvalidInput` naming the `field` at fault.

Some rules differ on purpose, because the Azure ML call they stand for differs: tags a model or dataset takes are
converted to text as Azure ML's SDK converts them (`string_map`), a run's tags may be null (`history_tags`), and the
app's own JSON fields take strings only (`string_values`). Each difference is a keyword argument a caller chooses,
never something a function decides for it; `tests/unit/test_validators.py` pins each variant's inputs and wording.

Storage paths built from these names are `shared/core/layout.py`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from shared.core.errors import InvalidInput

TagMap = dict[str, str | None]

#: What stands for "no entries" in a map or list field: None only, anything falsy (`value or {}`: null, "", [], 0),
#: or nothing (null is refused as any other non-object is).
Absent = Literal["none", "falsy", "refused"]


def _is_absent(value: object, absent: Absent) -> bool:
    return (absent == "none" and value is None) or (absent == "falsy" and not value)


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


def validate_printable_name(kind: str, value: object) -> str:
    """A name people read that Azure ML limits to 255 printable characters (a published pipeline's, a schedule's,
    a metric's): never part of a storage path, so spaces are fine, as in the seeds' 'Weekly Predictions'."""
    if not isinstance(value, str) or not value.strip() or len(value) > 255 or not value.isprintable():
        raise InvalidInput(f"{kind} name {value!r} is not valid: 1-255 printable characters", field="name")
    return value


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


# -- text -----------------------------------------------------------------------------------------------------------


def optional_text(value: object, field: str) -> str | None:
    """A string field that may be left out (null): a description, a display name, a framework."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"'{field}' must be a string", field=field)
    return value


def optional_flag(value: object, field: str) -> bool | None:
    """A true/false field that may be left out (null): `overwrite`, `archived`, `continue_on_step_failure`. JSON's
    true and false only; "true", 1 or an object are refused rather than read as truthy."""
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"'{field}' must be true or false", field=field)
    return value


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


def history_tags(value: object) -> TagMap:
    """A run's or an experiment's tags as Run History takes them: names of 1-255 characters (not blank), each value
    a string or null (a tag with no value). Nothing is converted: the SDK sent them as Azure ML's does."""
    if not isinstance(value, dict):
        raise InvalidInput("'tags' must be an object of tag names to string values (or null)", field="tags")
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 255:
            raise InvalidInput(f"tag name {key!r} is not valid: 1-255 characters", field="tags")
        if item is not None and not isinstance(item, str):
            raise InvalidInput(f"tag {key!r}: the value must be a string or null, not {item!r}", field="tags")
    return value


# -- JSON objects and lists of strings the app's own API takes ------------------------------------------------------


def string_values(
    value: object,
    field: str,
    *,
    absent: Absent = "none",
    keys: Literal["any", "strings"] = "any",
    values: Literal["strings", "unchecked"] = "strings",
    message: str | None = None,
) -> dict[str, str]:
    """A JSON object of string values, given as it is (nothing converted); what is absent (`absent`) is {}.

    `keys="strings"` also refuses a key that is not a string (a caller passing a dict in-process; JSON keys always
    are). `values="unchecked"` only makes sure it is an object: for a caller that adds its own entries and hands
    the map on to where the values are checked (a run's start), so the order its refusals come in stays the same.
    `message` is the refusal in a caller's own words, where its API words it otherwise."""
    if _is_absent(value, absent):
        return {}
    if (
        not isinstance(value, dict)
        or (keys == "strings" and not all(isinstance(key, str) for key in value))
        or (values == "strings" and not all(isinstance(item, str) for item in value.values()))
    ):
        raise InvalidInput(message or f"'{field}' must be an object of string values", field=field)
    return value


def named_strings(value: object, field: str) -> dict[str, str]:
    """A script step's `params` or `environment_variables`: keys that are names (`validate_name`, as they become
    `AML_PARAMETER_<name>` or variable names), keys and values converted with `str()`; None is {}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"'{field}' must be an object of names to strings", field=field)
    return {validate_name(field, str(key)): str(item) for key, item in value.items()}


def string_list(
    value: object, field: str, *, described: str, absent: Absent = "none", blank_items: bool = True
) -> list[str]:
    """A JSON list of strings (tag names to remove, package specs), given as it is; what is absent is []. A
    refusal reads "'<field>' must be a list of <described>"; `blank_items=False` also refuses empty or blank
    items."""
    if _is_absent(value, absent):
        return []
    if not isinstance(value, list) or not all(
        isinstance(item, str) and (blank_items or item.strip()) for item in value
    ):
        raise InvalidInput(f"'{field}' must be a list of {described}", field=field)
    return list(value)
