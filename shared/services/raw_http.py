"""Raw HTTP access in `run()`, as `azureml.contrib.services` has it: `@rawhttp`, `AMLRequest`, `AMLResponse`.

A `run` decorated with `@rawhttp` gets the request itself (an `AMLRequest`: Flask's request, as Werkzeug's) for every
method the scoring URI takes (GET, POST, OPTIONS), and may return an `AMLResponse` to set the status, body, headers
and content type; Azure ML's server answers those as they are, and so does fninfer. Azure ML's `rawhttp` flags the
whole process (one script per container); fninfer marks the function, as several services share a process. Users
import these as `fninfer.contrib.services.aml_request` / `aml_response`.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from io import BytesIO
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote_to_bytes, urlsplit

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

F = TypeVar("F", bound=Callable[..., Any])

RAW_HTTP_ATTRIBUTE = "__fninfer_rawhttp__"


def rawhttp(func: F) -> F:
    """Mark `run` to receive the request itself (an AMLRequest) rather than its body."""
    setattr(func, RAW_HTTP_ATTRIBUTE, True)
    return func


def wants_raw_http(func: Callable[..., Any]) -> bool:
    return bool(getattr(func, RAW_HTTP_ATTRIBUTE, False))


@functools.lru_cache(maxsize=512)
def canonical_name(name: str) -> str:
    """`content-type` as `Content-Type` (worked out when headers are listed, not for each header of each call)."""
    return "-".join(part.capitalize() for part in name.split("-"))


class Headers(MutableMapping[str, str]):
    """HTTP headers, looked up whatever the case (as Werkzeug's), listed with canonical names ("Content-Type")."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}  # lower-case name -> (name as given, value)
        for key, value in (items or {}).items():
            self._items[key.lower()] = (key, str(value))

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __setitem__(self, key: str, value: object) -> None:
        self._items[key.lower()] = (key, str(value))

    def __delitem__(self, key: str) -> None:
        del self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (canonical_name(name) for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def add(self, key: str, value: object) -> None:
        """Add a value; a header given twice is sent once, its values joined by ", " (RFC 9110's equivalent)."""
        self[key] = f"{self[key]}, {value}" if key in self else value

    add_header = add

    def remove(self, key: str) -> None:
        self._items.pop(key.lower(), None)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class MultiDict(dict[str, str]):
    """Query values: `[key]` / `.get(key)` give the first value, `.getlist(key)` all (Werkzeug's API)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self._lists: dict[str, list[str]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)
            self.setdefault(key, value)

    def getlist(self, key: str) -> list[str]:
        return list(self._lists.get(key, []))


def query_values(query_string: bytes) -> MultiDict:
    return MultiDict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


def wsgi_environ(
    method: str, url: str, path: str, query_string: bytes, headers: Headers, body: bytes
) -> dict[str, Any]:
    """The WSGI environ Azure ML's Flask server would have made for this request (PEP 3333)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query_string.decode("latin-1"),
        "SERVER_NAME": parts.hostname or "localhost",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    environ.setdefault("HTTP_HOST", parts.netloc)
    return environ


#: The route Azure ML's server matched for a scoring call (azureml_inference_server_http/server/routes.py).
SCORE_ENDPOINT = "main.handle_score"
SCORE_RULE = Rule("/score", methods=["GET", "POST", "OPTIONS"], endpoint=SCORE_ENDPOINT)


class AMLRequest(Request):
    """The request as `run(request)` gets it under `@rawhttp`. Azure ML's AMLRequest is Flask's request: Werkzeug's
    (here, the Functions worker's own dependency) with Flask's routing attributes, which say what Azure ML's server
    matched: its `main` blueprint's /score route."""

    url_rule: Rule | None = SCORE_RULE
    view_args: dict[str, Any] | None = None
    routing_exception: Exception | None = None
    json_module: Any = json

    @classmethod
    def of(cls, method: str, url: str, path: str, query_string: bytes, headers: Headers, body: bytes) -> AMLRequest:
        request = cls(wsgi_environ(method, url, path, query_string, headers, body))
        request.view_args = {}  # the /score route has no variables
        return request

    @property
    def endpoint(self) -> str | None:
        return SCORE_ENDPOINT

    @property
    def blueprint(self) -> str | None:
        return "main"

    @property
    def blueprints(self) -> list[str]:
        return ["main"]


class AMLResponse(Response):
    """What `run` returns to answer with its own status, headers and body: Azure ML's AMLResponse, a Flask response
    (here Werkzeug's, with Flask's defaults) made by its constructor:
    `AMLResponse(message, status_code, response_headers={}, json_str=False, run_function_failed=False)`.

    With `json_str`, the body is `json.dumps(message)` as application/json; else `message` (str or bytes) as it is,
    text/html unless `response_headers` name a Content-Type; a None message is `{}` as JSON. A header value with commas
    is that header given once per value (Azure ML splits them)."""

    default_mimetype = "text/html"  # Flask's
    autocorrect_location_header = False  # Flask's
    json_module: Any = json

    def __init__(
        self,
        message: Any,
        status_code: int,
        response_headers: Mapping[str, Any] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        response_headers = response_headers or {}
        if message is None:
            super().__init__(json.dumps({}), status=int(status_code), mimetype="application/json")
        elif json_str:
            super().__init__(json.dumps(message), status=int(status_code), mimetype="application/json")
        else:
            super().__init__(message, status=int(status_code))
            if any(name.lower() == "content-type" for name in response_headers):
                self.headers.remove("Content-Type")
        self.headers["x-ms-run-function-failed"] = str(bool(run_function_failed))
        for header, value in response_headers.items():
            for part in str(value).split(","):
                self.headers.add_header(header, part.strip())

    @property
    def max_cookie_size(self) -> int:
        return 4093  # Flask's default (its app config's MAX_COOKIE_SIZE)
