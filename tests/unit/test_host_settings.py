"""The local host and the app name the same settings and resolve a storage connection alike, each with its own code
(the host imports nothing of the app)."""

from __future__ import annotations

import pytest

from fninfer import _config
from fninfer_host import settings as host
from fninfer_host.errors import HostError
from shared.core import settings as app
from shared.core.errors import InvalidInput

ENVIRONMENTS = [
    {"AzureWebJobsStorage": "DefaultEndpointsProtocol=http;AccountName=x"},
    {"AzureWebJobsStorage": "UseDevelopmentStorage=true"},
    {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__clientId": "cid"},
    {"AzureWebJobsStorage:accountName": "acct"},
    {
        "AzureWebJobsStorage__blobServiceUri": "https://b.example",
        "AzureWebJobsStorage__queueServiceUri": "https://q.example",
    },
    {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__blobServiceUri": "https://b.example"},
]


def test_the_host_sets_and_reads_the_settings_the_app_reads() -> None:
    assert host.STORAGE_CONNECTION == app.STORAGE_CONNECTION
    assert host.ADMIN_KEY == app.ADMIN_KEY
    assert host.APP_HOSTNAME == _config.APP_HOSTNAME
    assert host.CONFIG_ENV == _config.CONFIG_ENV


@pytest.mark.parametrize("environ", ENVIRONMENTS)
def test_a_connection_resolves_alike_in_the_host_and_the_app(environ: dict[str, str]) -> None:
    ours, theirs = host.storage_connection(environ=environ), app.storage_connection(environ=environ)
    assert (ours.connection_string, ours.blob_service_uri, ours.queue_service_uri, ours.client_id) == (
        theirs.connection_string,
        theirs.blob_service_uri,
        theirs.queue_service_uri,
        theirs.client_id,
    )
    assert "AccountName" not in repr(ours)  # keys never reach logs


@pytest.mark.parametrize("environ", [{}, {"AzureWebJobsStorage__blobServiceUri": "https://b.example"}])
def test_an_unconfigured_connection_is_refused_by_both(environ: dict[str, str]) -> None:
    with pytest.raises(HostError, match="AzureWebJobsStorage__accountName"):
        host.storage_connection(environ=environ)
    with pytest.raises(InvalidInput):
        app.storage_connection(environ=environ)


def test_the_azurite_connection_string_names_its_ports() -> None:
    text = host.azurite_connection_string(10100, 10101)
    assert "BlobEndpoint=http://127.0.0.1:10100/devstoreaccount1;" in text
    assert "QueueEndpoint=http://127.0.0.1:10101/devstoreaccount1;" in text
    assert host.DEVELOPMENT_STORAGE == app.DEVELOPMENT_STORAGE
