"""What a scoring response's body holds for what run() returned."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared.services.runtime import encode_result


def test_the_default_body_is_a_json_string_holding_the_result_as_the_seeds_clients_expect() -> None:
    body = encode_result(np.array([0, 2, 1]))
    assert json.loads(json.loads(body)) == [0, 2, 1]


def test_json_encoding_is_the_json_of_the_result_as_azure_ml_documents() -> None:
    assert json.loads(encode_result([np.int64(1), np.float32(0.5)], "json")) == [1, 0.5]
    assert json.loads(encode_result({"classes": np.array(["a", "b"])}, "json")) == {"classes": ["a", "b"]}


@pytest.mark.parametrize("encoding", ["json-string", "json"])
def test_a_string_result_is_that_string_json_encoded_in_both(encoding: str) -> None:
    assert encode_result("[1, 2]", encoding) == '"[1, 2]"'


def test_a_result_that_is_not_json_fails_naming_its_type() -> None:
    with pytest.raises(TypeError, match="returned a object"):
        encode_result([object()], "json")
