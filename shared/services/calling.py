"""How a scoring call reaches `run()` and what its answer is: Azure ML's scoring server's rules
(`azureml-inference-server-http`: server/user_script.py, input_parsers.py, routes.py), decided once per service
version as that server decides them at start.

`run()`'s signature picks how it is called:
- `@rawhttp`: `run(request)` with the request itself (an AMLRequest), whatever the method;
- decorated with inference-schema's `@input_schema`: the body is a JSON object whose keys are run's parameters
  (`run(data=..., ...)`; a missing parameter without a default is a 400, a body other than a JSON object a 400, a
  content type other than JSON a 415); the decorators convert each value to the sample's type (a numpy array, a
  DataFrame, ...);
- otherwise `run(raw_data)` with the body as text. A GET passes the query parameters instead (as a JSON object, each
  value parsed as JSON where it is JSON); an OPTIONS is answered 200 with an empty body.
A parameter named `request_headers` gets the request's headers. `*args`, `**kwargs` and positional-only parameters are
refused at deployment, as Azure ML's server refuses to start with them.

The answer (`reply_for`): an AMLResponse as it is; anything else `json.dumps(result)` as application/json (so a list
is `[2, 0]`, a `json.dumps(...)` string is `"[2, 0]"`, None is `{}`, NaN is `NaN`); a result `json.dumps` cannot
encode (a numpy array or integer, a DataFrame, bytes, a set) is a 500, as there. The response encoding
"json-string" keeps fninfer's earlier body instead: a JSON string holding the result's JSON, numpy values converted.
Errors are bodies `{"message": ...}` with Azure ML's texts.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from inference_schema.schema_util import is_schema_decorated

from shared.core.errors import InvalidInput, UnsupportedMediaType
from shared.services.raw_http import AMLRequest, AMLResponse, Headers, MultiDict, query_values, wants_raw_http

log = logging.getLogger("fninfer.app")

#: The response encodings a deployment or the app setting may choose (see the module docstring).
AZURE_ML = "json"
JSON_STRING = "json-string"
RESPONSE_ENCODINGS = (AZURE_ML, JSON_STRING)

RUN_FAILED = "An unexpected error occurred in scoring script. Check the logs for more info."
INTERNAL_ERROR = "An unexpected internal error occurred. Check the logs for more info."


@dataclass
class Reply:
    """A scoring answer: status, body, content type and headers."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def message_reply(status: int, message: str, run_failed: bool = False) -> Reply:
    """An error as Azure ML's server writes it (its ErrorResponse)."""
    body = json.dumps({"message": message}).encode()
    return Reply(status, body, "application/json", {"x-ms-run-function-failed": str(run_failed)})


@dataclass(frozen=True)
class ScoringRequest:
    """What the runtime needs of an HTTP request to the scoring URI."""

    method: str
    url: str
    path: str
    query_string: bytes
    headers: Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def query(self) -> MultiDict:
        return query_values(self.query_string)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _query_object(request: ScoringRequest) -> dict[str, Any]:
    """Azure ML's reading of GET parameters: each value as JSON where it is JSON, repeated keys as lists."""
    args = request.query()
    parsed: dict[str, Any] = {}
    for key in args:
        values = args.getlist(key)
        parsed[key] = _parse_value(values[0]) if len(values) == 1 else [_parse_value(v) for v in values]
    return parsed


def _is_json(content_type: str) -> bool:
    mimetype = content_type.split(";")[0].strip().lower()
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def decode_json(body: bytes) -> Any:
    """The body as JSON; InvalidInput (400) naming the problem otherwise (a body nested too deeply to decode
    included)."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        if not body:
            raise InvalidInput("POST body is empty. Expecting a JSON dictionary.") from None
        raise InvalidInput(f"POST body could not be decoded as JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput("POST body could not be decoded as JSON: it is nested too deeply") from None


Kind = Literal["raw", "object", "text"]


@dataclass(frozen=True)
class RunSignature:
    """How run() is called, from its signature (Azure ML's UserScript._analyze_run)."""

    kind: Kind
    parameters: tuple[inspect.Parameter, ...]
    wants_headers: bool

    @classmethod
    def of(cls, run: Callable[..., Any]) -> RunSignature:
        params = list(inspect.signature(run).parameters.values())
        if any(p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
            raise InvalidInput("run() cannot accept positional-only arguments, *args, or **kwargs.")
        wants_headers = any(p.name == "request_headers" for p in params)
        params = [p for p in params if p.name != "request_headers"]
        if not params:
            if wants_headers:
                raise InvalidInput('run() needs to accept an argument other than "request_headers".')
            raise InvalidInput("run() needs to accept an argument for input data.")
        raw, decorated = wants_raw_http(run), is_schema_decorated(run)
        if raw and decorated:
            raise InvalidInput("run() cannot be decorated with both @rawhttp and @input_schema")
        kind: Kind = "raw" if raw else "object" if decorated else "text"
        return cls(kind, tuple(params), wants_headers)

    def arguments(self, request: ScoringRequest) -> dict[str, Any]:
        """run()'s keyword arguments for `request` (InvalidInput, a 400 or 415, when it cannot have any: the
        runtime answers it `{"message": ...}`, as Azure ML's server does)."""
        arguments = self._inputs(request)
        if self.wants_headers:
            arguments["request_headers"] = Headers(request.headers)
        return arguments

    def _inputs(self, request: ScoringRequest) -> dict[str, Any]:
        first = self.parameters[0].name
        if self.kind == "raw":
            raw = AMLRequest.of(
                request.method, request.url, request.path, request.query_string, request.headers, request.body
            )
            return {first: raw}
        if request.method == "GET":
            query = _query_object(request)
            return self._named(query) if self.kind == "object" else {first: json.dumps(query)}
        if self.kind == "object":
            if not _is_json(request.content_type):
                raise UnsupportedMediaType("Expects Content-Type to be application/json")
            body = decode_json(request.body)
            if not isinstance(body, dict):
                raise InvalidInput("POST body should be a JSON dictionary.")
            return self._named(body)
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"Input cannot be decoded as UTF-8: {exc}") from None
        if not request.content_type or _is_json(request.content_type):
            decode_json(request.body)  # a body claiming JSON that is not: 400 (see docs/differences.md)
        return {first: text}

    def _named(self, body: Mapping[str, Any]) -> dict[str, Any]:
        values = {}
        for parameter in self.parameters:
            value = body.get(parameter.name, parameter.default)
            if value is inspect.Parameter.empty:
                raise InvalidInput(f"A value is not provided for the {parameter.name!r} parameter.")
            values[parameter.name] = value
        return values


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain JSON values (the "json-string" encoding only)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"run() returned a {type(value).__name__}, which is not JSON serializable")


def encode_result(result: Any, encoding: str = AZURE_ML) -> str:
    """The JSON body for a result: Azure ML's server's `json.dumps(result)`, or the "json-string" body."""
    if encoding == AZURE_ML:
        return "{}" if result is None else json.dumps(result)  # None: Azure ML's AMLResponse(None) is `{}`
    if isinstance(result, str):
        return json.dumps(result)
    return json.dumps(json.dumps(result, default=_plain))


def reply_for(result: Any, encoding: str) -> Reply:
    """The answer for what run() returned (see the module docstring); raises what encoding raised (TypeError,
    ValueError) for the caller to log and answer 500."""
    if isinstance(result, AMLResponse):
        headers = Headers()
        for name, value in result.headers.items():
            headers.add(name, value)
        content_type = headers.pop("Content-Type", result.mimetype or "text/html; charset=utf-8")
        if result.status_code >= 500:
            headers["X-Ms-Run-Function-Failed"] = "True"
        return Reply(result.status_code, result.get_data(), content_type, dict(headers.items()))
    body = encode_result(result, encoding).encode()
    return Reply(200, body, "application/json", {"x-ms-run-function-failed": "False"})


def options_reply() -> Reply:
    """OPTIONS on the scoring URI of a run() without @rawhttp: 200 and no body, as Azure ML's server answers."""
    return Reply(200, b"", "text/html; charset=utf-8", {"x-ms-run-function-failed": "False"})


def unencodable_hint(result: Any) -> str:
    """What the log says when a result is not JSON: its type, and the usual fix."""
    kind = type(result).__name__
    hint = " (return .tolist())" if hasattr(result, "tolist") else ""
    return f"run() returned a {kind}, which json.dumps cannot encode{hint}: answered 500 as Azure ML's server does"
