"""Tags and properties as Azure ML keeps them: a map of string keys to string values.

Azure ML takes any value and gives it back as a string: the SDK converts every value that is not a string (or None)
with `str()` before sending it (azureml's `_sanitize_tags`: `{'mse': 3021.5}` is stored as `{'mse': '3021.5'}`,
`True` as `'True'`), and None stays None (a tag with no value, as `run.tag('candidate')` sets). One function does
that here for every tag and property map of the registry, on both sides: the SDK, before it sends a map, and the app,
for a map a client sent as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.core.errors import InvalidInput

TagMap = dict[str, str | None]


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
