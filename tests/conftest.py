from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from regionguard.sandbox.server import SandboxApp, serve
from regionguard.sandbox.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


# ------------------------------------------------------------------ sandbox

SANDBOX_SETTINGS = """\
management_account_id: "111111111111"
registry: accounts.yaml
organizational_units: [Security, Workloads]
landing_zone:
  home_region: ap-northeast-1
  governed_regions: [ap-northeast-1, us-east-1]
  region_deny: false
operation_seconds: 0.05
"""

SANDBOX_ACCOUNTS = """\
accounts:
  - id: "100000000001"
    name: ml-platform
    ou: Workloads/ML
    bedrock_cross_region_inference: true
  - id: "100000000002"
    name: payments
    ou: Workloads
    bedrock_cross_region_inference: false
  - id: "100000000003"
    name: research
    ou: Research
    bedrock_cross_region_inference: true
"""


def write_sandbox_env(folder: Path) -> Path:
    env = folder / "env"
    env.mkdir()
    (env / "sandbox.yaml").write_text(SANDBOX_SETTINGS)
    (env / "accounts.yaml").write_text(SANDBOX_ACCOUNTS)
    return env


@pytest.fixture
def sandbox_env(tmp_path: Path) -> Path:
    """A small environment folder with sandbox settings and a registry."""
    return write_sandbox_env(tmp_path)


@pytest.fixture(scope="module")
def sandbox_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxApp, str]]:
    """The sandbox application served in this process on a free loopback port."""
    env = write_sandbox_env(tmp_path_factory.mktemp("sandbox"))
    app = SandboxApp(load_settings(env))
    server = serve(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
