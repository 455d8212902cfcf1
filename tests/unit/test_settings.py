"""App settings and storage connections resolve as the Functions host resolves them."""

from __future__ import annotations

import pytest

from shared.core.errors import InvalidInput
from shared.core.settings import DEVELOPMENT_STORAGE, get_setting, storage_connection


def test_double_underscore_and_colon_are_the_same_setting() -> None:
    assert get_setting("AzureWebJobsStorage:accountName", environ={"AzureWebJobsStorage__accountName": "a"}) == "a"
    assert get_setting("X__y", environ={"X:y": "b"}) == "b"
    assert get_setting("missing", "fallback", environ={}) == "fallback"
    assert get_setting("empty", "fallback", environ={"empty": ""}) == "fallback"


def test_a_plain_value_is_a_connection_string() -> None:
    connection = storage_connection(environ={"AzureWebJobsStorage": "DefaultEndpointsProtocol=http;AccountName=x"})
    assert connection.connection_string == "DefaultEndpointsProtocol=http;AccountName=x"
    assert not connection.uses_identity
    assert "AccountName" not in repr(connection)  # keys never reach logs


def test_use_development_storage_means_azurite_defaults() -> None:
    connection = storage_connection(environ={"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert connection.connection_string == DEVELOPMENT_STORAGE


def test_account_name_gives_identity_based_endpoints() -> None:
    environ = {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__clientId": "cid"}
    connection = storage_connection(environ=environ)
    assert connection.uses_identity
    assert connection.blob_service_uri == "https://acct.blob.core.windows.net"
    assert connection.queue_service_uri == "https://acct.queue.core.windows.net"
    assert connection.client_id == "cid"


def test_explicit_service_uris_win() -> None:
    environ = {
        "AzureWebJobsStorage__blobServiceUri": "https://b.example",
        "AzureWebJobsStorage__queueServiceUri": "https://q.example",
    }
    connection = storage_connection(environ=environ)
    assert (connection.blob_service_uri, connection.queue_service_uri) == ("https://b.example", "https://q.example")


def test_a_missing_connection_names_the_setting() -> None:
    with pytest.raises(InvalidInput, match="AzureWebJobsStorage"):
        storage_connection(environ={})
    with pytest.raises(InvalidInput, match="queueServiceUri"):
        storage_connection(environ={"AzureWebJobsStorage__blobServiceUri": "https://b.example"})
