"""Where Terraform finds the sandbox, and that it finds nothing else.

``envs/local/providers.tf`` names no address: ``local_sandbox.terraform_environment``
points the four services the sandbox emulates at it with
``AWS_ENDPOINT_URL_<SERVICE>``, and the provider's proxy settings send every
other address to a port nothing can listen on (docs/decisions.md, "The
sandbox's address").
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from regionguard.errors import InputError
from regionguard.local_sandbox import SANDBOX_SERVICES, terraform_environment

ENDPOINT = "http://127.0.0.1:4581"


def test_the_four_services_point_at_the_sandbox_and_nothing_else_changes() -> None:
    base = {"PATH": "/usr/bin", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_S3": "http://x"}
    variables = terraform_environment(ENDPOINT, base)
    assert SANDBOX_SERVICES == ("CONTROLTOWER", "IAM", "ORGANIZATIONS", "STS")
    assert variables == {
        **base,
        "AWS_ENDPOINT_URL_CONTROLTOWER": ENDPOINT,
        "AWS_ENDPOINT_URL_IAM": ENDPOINT,
        "AWS_ENDPOINT_URL_ORGANIZATIONS": ENDPOINT,
        "AWS_ENDPOINT_URL_STS": ENDPOINT,
    }
    assert base == {
        "PATH": "/usr/bin",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_S3": "http://x",
    }


def test_an_operator_endpoint_for_the_sandbox_services_is_replaced() -> None:
    base = {
        "AWS_ENDPOINT_URL": "https://example.com",
        "AWS_ENDPOINT_URL_ORGANIZATIONS": "https://organizations.example.com",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
    }
    variables = terraform_environment(ENDPOINT, base)
    assert "AWS_ENDPOINT_URL" not in variables
    assert "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" not in variables
    assert variables["AWS_ENDPOINT_URL_ORGANIZATIONS"] == ENDPOINT


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://10.0.0.1:4580",
        "https://127.0.0.1:4580",
        "http://127.0.0.1",
        "http://organizations.us-east-1.amazonaws.com:80",
        "http://127.0.0.1.example.com:4580",
        "127.0.0.1:4580",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:port",
        "",
    ],
)
def test_an_endpoint_off_loopback_is_refused(endpoint: str) -> None:
    with pytest.raises(InputError, match="not an http URL on loopback with a port"):
        terraform_environment(endpoint, {})


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:4580", "http://127.8.9.10:1", "http://localhost:4580", "http://[::1]:4580"],
)
def test_loopback_endpoints_pass(endpoint: str) -> None:
    assert terraform_environment(endpoint, {})["AWS_ENDPOINT_URL_STS"] == endpoint


@pytest.mark.terraform
def test_without_the_sandbox_address_every_call_fails_closed_on_this_machine(
    tmp_path: Path, local_env_copier: Callable[..., Path]
) -> None:
    """Terraform run by hand in envs/local, with an operator's NO_PROXY: no call leaves loopback.

    The refused proxy is 127.0.0.1:0; nothing is sent anywhere else.
    """
    env_dir = local_env_copier(tmp_path)
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "TF_VAR_"))
    }
    environ.update(NO_PROXY="*", no_proxy="*", TF_IN_AUTOMATION="1")

    def terraform(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["terraform", *args, "-input=false", "-no-color"],
            cwd=env_dir,
            env=environ,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    init = terraform("init")
    assert init.returncode == 0, init.stdout + init.stderr
    plan = terraform("plan")
    assert plan.returncode == 1, plan.stdout + plan.stderr
    errors = [line for line in plan.stderr.splitlines() if line.startswith("Error: ")]
    assert errors, plan.stderr
    for line in errors:
        assert "amazonaws.com" in line, line
        assert "proxyconnect tcp: dial tcp 127.0.0.1:0" in line, line
