"""host.json is read with the real host's defaults, overrides and range checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fninfer_host.options import HostConfigError, compute_host_id, load_host_options, parse_timespan


def write(tmp_path: Path, document: dict[str, object]) -> Path:
    (tmp_path / "host.json").write_text(json.dumps(document))
    return tmp_path


def test_defaults_match_core_tools(tmp_path: Path) -> None:
    options = load_host_options(write(tmp_path, {"version": "2.0"}), environ={"WEBSITE_SKU": "Dynamic"})
    assert options.route_prefix == "api"
    assert options.function_timeout == 1800
    assert options.queues.batch_size == 16
    assert options.queues.new_batch_threshold == 8  # (batchSize / 2) x 1 CPU on a Dynamic SKU
    assert options.queues.max_polling_interval == 2.0  # the Development environment default
    assert options.queues.max_dequeue_count == 5
    assert options.blobs.max_degree_of_parallelism == 8


def test_values_and_environment_overrides(tmp_path: Path) -> None:
    app = write(
        tmp_path,
        {"version": "2.0", "functionTimeout": "00:00:05", "extensions": {"http": {"routePrefix": ""}}},
    )
    environ = {"AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "2"}
    options = load_host_options(app, environ=environ)
    assert options.route_prefix == ""
    assert options.function_timeout == 5
    assert options.queues.max_dequeue_count == 2


def test_keys_are_case_insensitive_as_in_the_hosts_configuration(tmp_path: Path) -> None:
    app = write(
        tmp_path,
        {
            "Version": "2.0",
            "FunctionTimeout": "00:00:07",
            "Extensions": {"HTTP": {"RoutePrefix": "v1", "customHeaders": {"X-Frame-Options": "DENY"}}},
        },
    )
    assert load_host_options(app, environ={}).route_prefix == "v1"
    environ = {
        "AzureFunctionsJobHost__extensions__http__routeprefix": "v2",
        "AzureFunctionsJobHost__extensions__queues__batchsize": "4",
    }
    options = load_host_options(app, environ=environ)
    assert (options.route_prefix, options.function_timeout, options.queues.batch_size) == ("v2", 7, 4)
    assert options.custom_headers == (("X-Frame-Options", "DENY"),)


def test_request_body_limit_setting(tmp_path: Path) -> None:
    app = write(tmp_path, {"version": "2.0"})
    assert load_host_options(app, environ={}).max_request_body_size == 104_857_600
    assert load_host_options(app, environ={"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "1000"}).max_request_body_size == 1000
    with pytest.raises(HostConfigError, match="FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"):
        load_host_options(app, environ={"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "lots"})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": "1.0"}, "version"),
        ({"version": "2.0", "extensions": {"queues": {"batchSize": 64}}}, "batchSize: 64 is out of range"),
        ({"version": "2.0", "extensions": {"queues": {"maxDequeueCount": "x"}}}, "maxDequeueCount"),
        ({"version": "2.0", "functionTimeout": "five minutes"}, "functionTimeout"),
        ({"version": "2.0", "extensions": {"queues": {"messageEncoding": "utf8"}}}, "messageEncoding"),
        ({"version": "2.0", "functionTimeout": "00:00:00.5"}, "functionTimeout must be at least"),
        ({"version": "2.0", "extensions": {"queues": {"maxPollingInterval": "00:00:00.05"}}}, "maxPollingInterval"),
        ({"version": "2.0", "extensions": {"blobs": {"maxDegreeOfParallelism": 0}}}, "maxDegreeOfParallelism: 0"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, document: dict[str, object], message: str) -> None:
    with pytest.raises(HostConfigError, match=message):
        load_host_options(write(tmp_path, document), environ={})


def test_timespans_and_host_id(tmp_path: Path) -> None:
    assert parse_timespan("1.02:00:00", "k") == 93600
    assert parse_timespan("-1", "k") is None
    host_id = compute_host_id(tmp_path, environ={})
    assert host_id == compute_host_id(tmp_path, environ={}) and len(host_id) <= 32 and host_id == host_id.lower()
    assert compute_host_id(tmp_path, environ={"AzureFunctionsWebHost__hostid": "MyApp"}) == "myapp"
