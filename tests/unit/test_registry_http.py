"""Route parameters the registry handlers read: checked in the handler too, so a direct call never becomes a 500."""

from __future__ import annotations

import json

import azure.functions as func

from functions._http import int_param, json_endpoint


def test_an_int_route_parameter_that_is_not_an_int_is_400() -> None:
    @json_endpoint(admin=False)
    def handler(req: func.HttpRequest) -> object:
        return {"version": int_param(req, "version")}

    def call(**route_params: str) -> tuple[int, object]:
        request = func.HttpRequest("GET", "http://localhost/api/models/m", body=b"", route_params=route_params)
        response = handler(request)
        return response.status_code, json.loads(response.get_body())

    assert call(version="3") == (200, {"version": 3})
    assert call() == (200, {"version": None})
    status, body = call(version="three")
    assert status == 400 and body["error"]["details"] == {"field": "version"}  # type: ignore[index]
