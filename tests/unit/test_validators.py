"""shared/core/validators.py: what each variant accepts, what it refuses, and in which words (the API's 400s)."""

from __future__ import annotations

import re

import pytest

from shared.core import validators
from shared.core.errors import InvalidInput


def refusal(call: object, *args: object, **kwargs: object) -> tuple[str, dict[str, object]]:
    assert callable(call)
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    return caught.value.message, caught.value.details


# -- names and paths ------------------------------------------------------------------------------------------------


def test_printable_names_take_spaces_and_refuse_blank_long_or_unprintable_text() -> None:
    assert validators.validate_printable_name("schedule", "Weekly Predictions") == "Weekly Predictions"
    for bad in (None, 3, "", "   ", "x" * 256, "tab\there"):
        assert refusal(validators.validate_printable_name, "metric", bad) == (
            f"metric name {bad!r} is not valid: 1-255 printable characters",
            {"field": "name"},
        )


def test_datastore_paths_are_stripped_and_refuse_non_strings_and_empty() -> None:
    assert validators.validate_datastore_path("/data/in/") == "data/in"
    assert validators.validate_datastore_path("/", "folder", allow_empty=True) == ""
    assert refusal(validators.validate_datastore_path, 3, "target_path") == (
        "target_path 3 must be a string",
        {"field": "target_path"},
    )
    assert refusal(validators.validate_datastore_path, "/") == (
        "path '/' is empty: name a file, a folder or a pattern",
        {"field": "path"},
    )


# -- text -----------------------------------------------------------------------------------------------------------


def test_optional_text_takes_a_string_or_null() -> None:
    assert validators.optional_text(None, "description") is None
    assert validators.optional_text("", "description") == ""
    assert refusal(validators.optional_text, 3, "description") == (
        "'description' must be a string",
        {"field": "description"},
    )


def test_optional_flag_takes_true_false_or_null_and_nothing_truthy() -> None:
    assert validators.optional_flag(None, "overwrite") is None
    assert validators.optional_flag(False, "overwrite") is False
    for bad in ("true", 1, {}, []):
        assert refusal(validators.optional_flag, bad, "overwrite") == (
            "'overwrite' must be true or false",
            {"field": "overwrite"},
        )


# -- Azure ML's tags and properties ------------------------------------------------------------------------------


def test_string_map_converts_as_azure_ml_does() -> None:
    assert validators.string_map(None) == {}
    assert validators.string_map({"mse": 3021.5, "ok": True, "none": None, 7: "x"}) == {
        "mse": "3021.5",
        "ok": "True",
        "none": None,
        "7": "x",
    }
    assert refusal(validators.string_map, ["a"], "properties") == (
        "'properties' must be a dictionary of names to values, not list",
        {"field": "properties"},
    )
    assert refusal(validators.string_map, {"": "x"}) == ("'tags' has an empty or missing key ('')", {"field": "tags"})
    assert refusal(validators.string_map, {None: "x"})[0] == "'tags' has an empty or missing key (None)"


def test_key_list_takes_one_key_or_a_list() -> None:
    assert validators.key_list(None) == []
    assert validators.key_list("a") == ["a"]
    assert validators.key_list(("a", "b"), "properties") == ["a", "b"]
    assert refusal(validators.key_list, [1]) == ("'tags' must be a key or a list of keys, not [1]", {"field": "tags"})


def test_history_tags_take_null_values_and_refuse_others() -> None:
    tags = {"candidate": None, "stage": "prod"}
    assert validators.history_tags(tags) is tags  # nothing converted
    assert validators.history_tags({}) == {}
    for bad in (None, [], "a"):
        assert refusal(validators.history_tags, bad) == (
            "'tags' must be an object of tag names to string values (or null)",
            {"field": "tags"},
        )
    for key in ("", "  ", "k" * 256, 3):
        assert refusal(validators.history_tags, {key: "v"}) == (
            f"tag name {key!r} is not valid: 1-255 characters",
            {"field": "tags"},
        )
    assert refusal(validators.history_tags, {"mse": 1.5}) == (
        "tag 'mse': the value must be a string or null, not 1.5",
        {"field": "tags"},
    )


# -- JSON objects and lists of strings ----------------------------------------------------------------------------


def test_string_values_take_strings_only_and_nothing_is_converted() -> None:
    given = {"a": "1"}
    assert validators.string_values(given, "tags") is given
    assert validators.string_values({3: "x"}, "tags") == {3: "x"}  # keys="any": a JSON key is a string anyway
    for bad in ({"a": 1}, {"a": None}, [], "", 0):
        assert refusal(validators.string_values, bad, "tags") == (
            "'tags' must be an object of string values",
            {"field": "tags"},
        )


@pytest.mark.parametrize(
    ("absent", "empty", "refused"),
    [
        ("none", [None], [[], "", 0, False]),
        ("falsy", [None, [], "", 0, False, {}], ["a", [1], 1]),
        ("refused", [], [None, [], ""]),
    ],
)
def test_string_values_absent_is_none_falsy_or_refused(
    absent: validators.Absent, empty: list[object], refused: list[object]
) -> None:
    for value in empty:
        assert validators.string_values(value, "tags", absent=absent) == {}
    for value in refused:
        assert refusal(validators.string_values, value, "tags", absent=absent)[0] == (
            "'tags' must be an object of string values"
        )


def test_string_values_keys_strings_refuses_other_keys() -> None:
    assert validators.string_values({"a": "b"}, "properties", keys="strings") == {"a": "b"}
    assert refusal(validators.string_values, {3: "b"}, "properties", keys="strings") == (
        "'properties' must be an object of string values",
        {"field": "properties"},
    )


def test_string_values_unchecked_only_wants_an_object() -> None:
    assert validators.string_values({"a": 1}, "tags", values="unchecked") == {"a": 1}
    assert validators.string_values(None, "tags", values="unchecked") == {}
    assert refusal(validators.string_values, [], "tags", values="unchecked")[0] == (
        "'tags' must be an object of string values"
    )


def test_string_values_say_a_callers_own_message() -> None:
    message = "register_on_complete tags must be an object of strings"
    assert refusal(validators.string_values, {"a": 1}, "register", absent="falsy", message=message) == (
        message,
        {"field": "register"},
    )


def test_named_strings_check_names_and_convert_values() -> None:
    assert validators.named_strings(None, "params") == {}
    assert validators.named_strings({"rows": 10, "flag": None}, "params") == {"rows": "10", "flag": "None"}
    assert refusal(validators.named_strings, ["a"], "environment_variables") == (
        "'environment_variables' must be an object of names to strings",
        {"field": "environment_variables"},
    )
    message, details = refusal(validators.named_strings, {"no/slash": "x"}, "params")
    assert re.match(r"params name 'no/slash' is not valid: use 1-255 letters", message)
    assert details == {"field": "name"}


def test_string_list_variants() -> None:
    assert validators.string_list(None, "remove_tags", described="tag names") == []
    assert validators.string_list(["a", ""], "keys", described="tag names", absent="refused") == ["a", ""]
    assert refusal(validators.string_list, None, "keys", described="tag names", absent="refused") == (
        "'keys' must be a list of tag names",
        {"field": "keys"},
    )
    assert refusal(validators.string_list, "a", "remove_tags", described="tag names")[0] == (
        "'remove_tags' must be a list of tag names"
    )
    assert validators.string_list("", "requirements", described="package specs", absent="falsy") == []
    assert refusal(validators.string_list, [1], "requirements", described="package specs", absent="falsy") == (
        "'requirements' must be a list of package specs",
        {"field": "requirements"},
    )
    assert refusal(validators.string_list, ["numpy", " "], "pip", described="non-empty strings", blank_items=False) == (
        "'pip' must be a list of non-empty strings",
        {"field": "pip"},
    )
