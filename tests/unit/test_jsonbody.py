"""Callers' JSON: any document is either parsed or refused with a 400, never a RecursionError."""

from __future__ import annotations

import json

import pytest

from functions._json_body import MAX_DEPTH, nesting_depth, parse_json
from shared.core.errors import InvalidInput


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 999, 1_000, 100_000])
def test_too_deep_is_invalid_input(depth: int) -> None:
    for text in (nested(depth), nested(depth).encode(), '{"a": ' + nested(depth) + "}"):
        with pytest.raises(InvalidInput, match=f"nested too deeply: at most {MAX_DEPTH} levels"):
            parse_json(text)


def test_documents_within_the_limit_parse_and_survive_encoding() -> None:
    document = parse_json(nested(MAX_DEPTH))
    assert nesting_depth(document) == MAX_DEPTH and json.loads(json.dumps(document)) == document
    many_brackets = json.dumps({"data": [[0.1, 2.3, 4.1, 2.0]] * 1000})  # many brackets, shallow: no walk needed
    assert len(parse_json(many_brackets.encode())["data"]) == 1000
    assert nesting_depth(3) == 0 and nesting_depth({"a": [1, {"b": []}]}) == 4


def test_not_json_names_the_input() -> None:
    with pytest.raises(InvalidInput, match="'tags' is not valid JSON") as raised:
        parse_json("{nope", what="'tags'", field="tags")
    assert raised.value.details == {"field": "tags"}
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_json(b"\xff\xfe")
