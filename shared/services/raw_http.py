"""Raw HTTP access in `run()`, as `azureml.contrib.services` has it: `@rawhttp`, `AMLRequest`, `AMLResponse`.

A `run` decorated with `@rawhttp` gets the request itself (an `AMLRequest`: the parts of Flask's request that scoring
scripts use) for every method the scoring URI takes (GET, POST, OPTIONS), and may return an `AMLResponse` to set the
status, body, headers and content type; Azure ML's server answers those as they are, and so does fninfer. Azure ML's
`rawhttp` flags the whole process (one script per container); fninfer marks the function, as several services share
a process. Users import these as `fninfer.contrib.services.aml_request` / `aml_response`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from email.parser import BytesParser
from email.policy import HTTP
from io import BytesIO
from typing import Any, TypeVar
from urllib.parse import parse_qsl

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
    """Query or form values: `[key]` / `.get(key)` give the first value, `.getlist(key)` all (Werkzeug's API)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self._lists: dict[str, list[str]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)
            self.setdefault(key, value)

    def getlist(self, key: str) -> list[str]:
        return list(self._lists.get(key, []))


class FileStorage:
    """One uploaded file of a multipart/form-data body (Werkzeug's `FileStorage` API, in memory)."""

    def __init__(self, data: bytes, filename: str | None, name: str, content_type: str | None) -> None:
        self.stream = BytesIO(data)
        self.filename = filename
        self.name = name
        self.content_type = content_type
        self.mimetype = (content_type or "").split(";")[0].strip()

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def save(self, destination: str) -> None:
        with open(destination, "wb") as handle:
            handle.write(self.stream.getvalue())


class AMLRequest:
    """The request as `run(request)` gets it under `@rawhttp`: Flask's attributes and methods that scoring scripts
    use (`method`, `headers`, `args`, `get_data`, `data`, `get_json`, `json`, `is_json`, `files`, `form`, `path`,
    `full_path`, `url`, `content_type`, `mimetype`, `query_string`)."""

    def __init__(self, method: str, url: str, path: str, query_string: bytes, headers: Headers, body: bytes) -> None:
        self.method = method.upper()
        self.url = url
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self._body = body
        self._length = len(body)
        self.args = MultiDict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        self._form: tuple[MultiDict, dict[str, FileStorage]] | None = None

    @property
    def full_path(self) -> str:
        return f"{self.path}?{self.query_string.decode('latin-1')}"

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def mimetype(self) -> str:
        return (self.content_type or "").split(";")[0].strip().lower()

    @property
    def content_length(self) -> int:
        return self._length

    @property
    def is_json(self) -> bool:
        mimetype = self.mimetype
        return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any:
        """The body; as in Werkzeug, reading it with `cache=False` consumes it (later reads get nothing)."""
        body = self._body
        if not cache:
            self._body = b""
        return body.decode("utf-8", "replace") if as_text else body

    @property
    def data(self) -> bytes:
        return bytes(self.get_data())

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The body as JSON (None when it is not JSON and `silent`); only for a JSON content type unless `force`."""
        if not (force or self.is_json):
            if silent:
                return None
            raise ValueError(f"the request's content type is {self.content_type!r}, not JSON")
        try:
            return json.loads(self.get_data())
        except (ValueError, RecursionError):
            if silent:
                return None
            raise

    @property
    def json(self) -> Any:
        return self.get_json()

    @property
    def form(self) -> MultiDict:
        return self._parse_form()[0]

    @property
    def files(self) -> dict[str, FileStorage]:
        return self._parse_form()[1]

    def _parse_form(self) -> tuple[MultiDict, dict[str, FileStorage]]:
        if self._form is None:
            fields: list[tuple[str, str]] = []
            files: dict[str, FileStorage] = {}
            body = bytes(self.get_data())
            if self.mimetype == "application/x-www-form-urlencoded":
                fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            elif self.mimetype == "multipart/form-data":
                head = f"Content-Type: {self.content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
                message = BytesParser(policy=HTTP).parsebytes(head + body)
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    payload = part.get_payload(decode=True) or b""
                    if part.get_filename() is not None:
                        files[str(name)] = FileStorage(payload, part.get_filename(), str(name), part.get_content_type())
                    else:
                        fields.append((str(name), payload.decode(part.get_content_charset() or "utf-8", "replace")))
            self._form = (MultiDict(fields), files)
        return self._form

    def __repr__(self) -> str:
        return f"<AMLRequest {self.url!r} [{self.method}]>"


class AMLResponse:
    """What `run` returns to answer with its own status, headers and body; Azure ML's constructor:
    `AMLResponse(message, status_code, response_headers={}, json_str=False, run_function_failed=False)`.

    With `json_str`, the body is `json.dumps(message)` as application/json; else `message` (str or bytes) as it is,
    text/html unless `response_headers` name a Content-Type (Flask's default); a None message is `{}` as JSON. A
    header value with commas is that header given once per value (Azure ML splits them)."""

    def __init__(
        self,
        message: Any,
        status_code: int,
        response_headers: Mapping[str, str] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        self.status_code = int(status_code)
        self.headers = Headers()
        if message is None:
            self.body, self.mimetype = b"{}", "application/json"
        elif json_str:
            self.body, self.mimetype = json.dumps(message).encode(), "application/json"
        else:
            self.body = message if isinstance(message, bytes) else str(message).encode()
            self.mimetype = "text/html; charset=utf-8"
        self.headers["x-ms-run-function-failed"] = str(bool(run_function_failed))
        for header, value in (response_headers or {}).items():
            for part in str(value).split(","):
                self.headers.add(header, part.strip())
        if "Content-Type" not in self.headers:
            self.headers["Content-Type"] = self.mimetype

    @property
    def content_type(self) -> str:
        return self.headers["Content-Type"]

    def get_data(self, as_text: bool = False) -> Any:
        return self.body.decode("utf-8", "replace") if as_text else self.body

    @property
    def data(self) -> bytes:
        return self.body

    @property
    def status(self) -> str:
        return str(self.status_code)
