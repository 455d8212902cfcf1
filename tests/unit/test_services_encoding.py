"""What a scoring answer holds for what run() returned, and how run() is called, as Azure ML's scoring server does
(the side-by-side check against that server is tests/integration/test_aml_server_parity.py)."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema

from fninfer.contrib.services.aml_request import rawhttp
from fninfer.contrib.services.aml_response import AMLResponse
from shared.core.errors import InvalidInput
from shared.services.calling import RunSignature, ScoringRequest, encode_result, reply_for
from shared.services.raw_http import Headers


def request(body: bytes = b"{}", method: str = "POST", query: bytes = b"", content_type: str = "application/json"):
    headers = Headers({"Content-Type": content_type, "X-Test": "yes"})
    url = "http://h/api/services/s/score" + ("?" + query.decode() if query else "")
    return ScoringRequest(method, url, "/api/services/s/score", query, headers, body)


def test_azure_mls_body_is_json_dumps_of_the_result() -> None:
    assert encode_result([2, 0]) == "[2, 0]"
    assert encode_result(json.dumps([2, 0])) == '"[2, 0]"'
    assert encode_result(None) == "{}"  # as Azure ML's server answers a run() that returns None
    assert encode_result(float("nan")) == "NaN"  # Azure ML's server writes NaN, not JSON: so does fninfer
    with pytest.raises(TypeError):
        encode_result(np.array([1]))  # Azure ML's server answers 500 here


def test_the_json_string_encoding_keeps_the_seeds_double_encoded_body() -> None:
    body = encode_result(np.array([0, 2, 1]), "json-string")
    assert json.loads(json.loads(body)) == [0, 2, 1]
    assert encode_result("[1, 2]", "json-string") == '"[1, 2]"'


def test_aml_responses_are_answered_as_they_are() -> None:
    reply = reply_for(AMLResponse(b"png", 201, {"Content-Type": "image/png", "X-Many": "a, b"}), "json")
    assert (reply.status, reply.body, reply.content_type) == (201, b"png", "image/png")
    assert reply.headers["X-Many"] == "a, b"
    text = reply_for(AMLResponse("went wrong", 500), "json")
    assert text.content_type == "text/html; charset=utf-8" and text.headers["X-Ms-Run-Function-Failed"] == "True"
    assert reply_for(AMLResponse(None, 202), "json").body == b"{}"


def test_an_undecorated_run_gets_the_body_as_text_and_a_get_its_query_as_json() -> None:
    def run(raw_data):  # type: ignore[no-untyped-def]
        return raw_data

    signature = RunSignature.of(run)
    assert signature.arguments(request(b'{"data": 1}')) == {"raw_data": '{"data": 1}'}
    assert signature.arguments(request(b"", "GET", b"a=1&b=[1,2]&c=x&a=2")) == {
        "raw_data": json.dumps({"a": [1, 2], "b": [1, 2], "c": "x"})
    }
    with pytest.raises(InvalidInput, match="could not be decoded as JSON"):
        signature.arguments(request(b"{not json"))


def test_a_body_nested_too_deeply_is_a_400() -> None:
    def run(raw_data):  # type: ignore[no-untyped-def]
        return raw_data

    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(InvalidInput) as caught:
        RunSignature.of(run).arguments(request(deep))
    assert caught.value.status == 400 and "nested too deeply" in caught.value.message


def test_a_schema_decorated_run_gets_named_values_converted_by_its_decorators() -> None:
    # inference-schema keys schemas by module and function name: a name of its own in this test module
    @input_schema("data", NumpyParameterType(np.array([[1.0, 2.0]])))
    def decorated(data, scale=2.0, request_headers=None):  # type: ignore[no-untyped-def]
        return data * scale

    signature = RunSignature.of(decorated)
    arguments = signature.arguments(request(b'{"data": [[1.0, 2.0]]}'))
    assert arguments["scale"] == 2.0 and arguments["request_headers"]["x-test"] == "yes"
    assert decorated(**arguments).tolist() == [[2.0, 4.0]]  # the decorator made `data` a numpy array
    for body, status, message in [
        (b"[1]", 400, "POST body should be a JSON dictionary."),
        (b"{}", 400, "A value is not provided for the 'data' parameter."),
    ]:
        with pytest.raises(InvalidInput) as caught:
            signature.arguments(request(body))
        assert (caught.value.status, caught.value.message) == (status, message)
    with pytest.raises(InvalidInput) as caught:
        signature.arguments(request(b'{"data": 1}', content_type="text/plain"))
    assert caught.value.status == 415


def test_a_rawhttp_run_gets_the_request() -> None:
    @rawhttp
    def run(request):  # type: ignore[no-untyped-def]
        return request

    got = RunSignature.of(run).arguments(request(b'{"a": 1}', query=b"x=1&x=2"))["request"]
    assert (got.method, got.get_data(), got.get_json(), got.args.getlist("x")) == (
        "POST",
        b'{"a": 1}',
        {"a": 1},
        ["1", "2"],
    )
    assert got.full_path == "/api/services/s/score?x=1&x=2" and got.headers["x-test"] == "yes"


def test_multipart_uploads_reach_files_and_form() -> None:
    @rawhttp
    def run(request):  # type: ignore[no-untyped-def]
        return request

    body = (
        b'--B\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n'
        b'--B\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG\r\n--B--\r\n"
    )
    got = RunSignature.of(run).arguments(request(body, content_type="multipart/form-data; boundary=B"))["request"]
    assert got.form["field"] == "value"
    assert (got.files["image"].filename, got.files["image"].read()) == ("a.png", b"\x89PNG")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def run(*args): pass", "cannot accept positional-only arguments, *args, or **kwargs"),
        ("def run(request_headers): pass", 'an argument other than "request_headers"'),
        ("def run(): pass", "needs to accept an argument for input data"),
    ],
)
def test_run_signatures_azure_mls_server_refuses_are_refused(source: str, message: str) -> None:
    namespace: dict[str, object] = {}
    exec(source, namespace)
    run = namespace["run"]
    assert inspect.isfunction(run)
    with pytest.raises(InvalidInput, match=message.replace("*", r"\*").replace("(", r"\(")):
        RunSignature.of(run)
