"""Errors cross HTTP intact: the app renders each domain error in one place, the SDK rebuilds the same class."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import azure.functions as func
import httpx
import pytest

from fninfer._client import AppClient, api_path, check_path
from fninfer._config import WorkspaceConfig
from fninfer._exceptions import UserErrorException, WebserviceException, webservice_error
from functions._http import json_endpoint
from shared.core import errors
from shared.core.errors import FninferError, NotFound, error_from_body

#: Every class of the one error tree: each must have its own code, so it comes back as itself.
ALL_ERRORS = [
    cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, FninferError) and cls.__module__ == errors.__name__
]


def test_every_domain_error_has_a_code_of_its_own() -> None:
    assert len(ALL_ERRORS) >= 18 and len({cls.code for cls in ALL_ERRORS}) == len(ALL_ERRORS)


def request() -> func.HttpRequest:
    return func.HttpRequest("GET", "http://localhost/api/x", body=b"")


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_each_domain_error_becomes_its_status_and_comes_back_as_its_class(cls: type[FninferError]) -> None:
    @json_endpoint(admin=False)
    def handler(req: func.HttpRequest) -> object:
        raise cls("what went wrong", field="name")

    response = handler(request())
    body = json.loads(response.get_body())
    assert response.status_code == cls.status and response.mimetype == "application/json"
    assert body == {"error": {"code": cls.code, "message": "what went wrong", "details": {"field": "name"}}}
    rebuilt = error_from_body(response.status_code, body)
    assert type(rebuilt) is cls and rebuilt.message == "what went wrong" and rebuilt.details == {"field": "name"}


def test_an_unexpected_error_is_a_500_with_a_reference_and_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    @json_endpoint(admin=False)
    def handler(req: func.HttpRequest) -> object:
        raise RuntimeError("connection string AccountKey=secret")

    with caplog.at_level(logging.ERROR, logger="fninfer.app"):
        response = handler(request())
    text = response.get_body().decode()
    assert response.status_code == 500 and "secret" not in text and "Traceback" not in text
    reference = json.loads(text)["error"]["message"].rsplit(" ", 1)[1]
    assert reference in caplog.text and "RuntimeError" in caplog.text  # the traceback is in the log only


def test_bodies_that_are_not_error_documents_still_raise_the_root() -> None:
    for body in (None, "Bad Gateway", {"detail": "x"}, {"error": {"code": "from_the_future", "message": "m"}}):
        error = error_from_body(502, body)
        assert type(error) is FninferError
    assert str(error_from_body(502, "Bad Gateway")) == "HTTP 502: 'Bad Gateway'"


def test_the_sdk_client_authenticates_and_raises_domain_errors() -> None:
    seen: list[httpx.Request] = []

    def app(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.url.path == "/api/models/m/3":
            return httpx.Response(404, json=NotFound("no version 3; versions: [1]", versions=[1]).to_dict())
        if req.url.path == "/api/broken":
            return httpx.Response(502, text="Bad Gateway")
        return httpx.Response(200, json={"ok": True})

    config = WorkspaceConfig(endpoint="http://127.0.0.1:7071/", admin_key="k3y")
    client = AppClient(config, transport=httpx.MockTransport(app))
    assert client.request("GET", "models") == {"ok": True}
    assert str(seen[0].url) == "http://127.0.0.1:7071/api/models" and seen[0].headers["authorization"] == "Bearer k3y"
    with pytest.raises(NotFound, match="versions: \\[1\\]") as caught:
        client.request("GET", "models/m/3")
    assert caught.value.details == {"versions": [1]}
    with pytest.raises(FninferError, match="HTTP 502"):
        client.request("GET", "broken")


def test_the_sdk_client_names_an_app_that_does_not_answer_or_a_config_without_credentials() -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    config = WorkspaceConfig(endpoint="http://127.0.0.1:9", admin_key="k")
    with pytest.raises(FninferError, match=r"the app at http://127.0.0.1:9 did not answer"):
        AppClient(config, transport=httpx.MockTransport(refuse)).request("GET", "models")
    keyless = AppClient(WorkspaceConfig(endpoint="http://127.0.0.1:9"), transport=httpx.MockTransport(refuse))
    with pytest.raises(FninferError, match="neither an admin_key nor an auth_scope"):
        keyless.request("GET", "models")


@pytest.mark.parametrize(
    "path", ["services/../models/x/1", "models/a b", "models/x?y=1", "models/%2e", "models//1", ""]
)
def test_a_path_that_is_not_made_of_names_is_refused_before_sending(path: str) -> None:
    with pytest.raises(UserErrorException, match="cannot be part of a name"):
        check_path(path)
    with pytest.raises(UserErrorException, match="cannot hold '/'"):
        api_path("services", "victim/keys")
    assert api_path("models", "m", 3) == "models/m/3"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.InvalidInput),
        (404, errors.NotFound),
        (415, errors.UnsupportedMediaType),
        (500, errors.ScoringFailed),
        (503, errors.ServiceUnavailable),
        (504, errors.ScoringTimeout),
    ],
)
def test_a_scoring_answer_in_azure_mls_words_comes_back_by_its_status(status: int, cls: type[FninferError]) -> None:
    # Azure ML's scoring server writes errors as {"message": ...}; the SDK raises the class of that status, and
    # Webservice.run turns it into the WebserviceException v1 code catches, still that class.
    error = error_from_body(status, {"message": "what went wrong"})
    assert type(error) is cls and error.message == "what went wrong"
    converted = webservice_error(error, "Received bad response from service")
    assert isinstance(converted, WebserviceException) and isinstance(converted, cls)
    assert converted.status_code == status


def test_the_sdks_azureml_exceptions_are_one_class_each() -> None:
    # azureml.core.compute_target, azureml.pipeline.core and azureml.core.run re-export azureml.exceptions' classes
    from fninfer import exceptions
    from fninfer.core.compute_target import ComputeTargetException
    from fninfer.pipeline.core import ActivityFailedException

    assert ComputeTargetException is exceptions.ComputeTargetException
    assert ActivityFailedException is exceptions.ActivityFailedException
    assert str(ActivityFailedException("step failed")) == "Activity Failed:\nstep failed"


def test_azureml_exception_members(capsys: pytest.CaptureFixture[str]) -> None:
    from fninfer.exceptions import AzureMLException, ParallelRunException, ServiceException

    try:
        try:
            raise KeyError("inner")
        except KeyError as exc:
            raise UserErrorException("outer") from exc
    except UserErrorException as caught:
        assert caught.message == "outer" and isinstance(caught.inner_exception, KeyError)
        caught.print_stacktrace()
    assert "UserErrorException: outer" in capsys.readouterr().err
    given = AzureMLException("with inner", inner_exception="previous error")
    assert given.inner_exception == "previous error"
    retry = ParallelRunException("skip this batch", code="Retry.NoRetry", delay_seconds=2.5)
    assert (retry.code, retry.delay_seconds, retry.message) == ("Retry.NoRetry", 2.5, "skip this batch")
    answered = SimpleNamespace(response=SimpleNamespace(status_code=503), error={"message": "busy"})
    service = ServiceException(answered)
    assert (service.status_code, service.error, service.inner_exception) == (503, {"message": "busy"}, answered)
