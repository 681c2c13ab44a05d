"""The sandbox's opt-in request counter: one line per AWS API call, by operation."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from regionguard.aws import sandbox_client
from regionguard.sandbox.server import SandboxApp, serve
from regionguard.sandbox.settings import load_sandbox_settings


@pytest.fixture
def logged_sandbox(sandbox_env: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log = tmp_path / "calls.log"
    app = SandboxApp(load_sandbox_settings(sandbox_env), call_log=log)
    server = serve(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def aws(service: str, endpoint: str) -> Any:
    return sandbox_client(service, endpoint)


def test_each_api_call_appends_its_service_operation_and_client(
    logged_sandbox: tuple[str, Path],
) -> None:
    endpoint, log = logged_sandbox
    aws("organizations", endpoint).list_roots()
    aws("organizations", endpoint).list_policies(Filter="SERVICE_CONTROL_POLICY")
    aws("controltower", endpoint).list_enabled_controls()
    # The query protocol's form body is read for the log and still reaches moto.
    assert aws("sts", endpoint).get_caller_identity()["Account"] == "111111111111"
    with urllib.request.urlopen(f"{endpoint}/regionguard/health", timeout=10) as reply:
        assert reply.status == 200

    assert log.read_text().splitlines() == [
        "organizations ListRoots boto3",
        "organizations ListPolicies boto3",
        "controltower ListEnabledControls boto3",
        "sts GetCallerIdentity boto3",
    ]


def test_an_unsigned_control_tower_call_is_logged_by_its_path(
    logged_sandbox: tuple[str, Path],
) -> None:
    endpoint, log = logged_sandbox
    request = urllib.request.Request(f"{endpoint}/list-enabled-controls", data=b"{}")
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200

    assert log.read_text().splitlines() == ["controltower ListEnabledControls other"]
