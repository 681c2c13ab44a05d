"""The local sandbox of an environment: started for a plan, found by every other command.

An environment with a ``sandbox.yaml`` runs against the sandbox of
:mod:`regionguard.sandbox` on loopback. The environments of ``envs/``
(``local``) share the repository's ``.sandbox/`` folder (docs/sandbox.md); an
environment folder anywhere else, such as a rehearsal's copy
(``.rehearse/<env>``, :mod:`regionguard.rehearsal`), keeps a sandbox of its own
in its ``.sandbox/`` folder, so that the two never answer for each other.

Terraform finds the sandbox through the environment :func:`terraform_environment`
gives its commands: ``envs/local/providers.tf`` names no address, and sends
whatever these variables do not route to a proxy that refuses it
(docs/decisions.md, "The sandbox's address").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.loopback import is_loopback
from regionguard.repo import repo_root
from regionguard.sandbox import process

__all__ = [
    "ENDPOINT_OVERRIDES",
    "SANDBOX_SERVICES",
    "running_endpoint",
    "start",
    "state_dir",
    "terraform_environment",
]

# The services the sandbox emulates, as the AWS SDKs name their
# AWS_ENDPOINT_URL_<SERVICE> variables (AWS SDKs and Tools reference guide,
# "Service-specific endpoints" and "Identifiers for service-specific endpoints").
SANDBOX_SERVICES = ("CONTROLTOWER", "IAM", "ORGANIZATIONS", "STS")
# Variables that would send these services elsewhere or make the SDKs ignore
# the ones above (same guide): the sandbox's environment drops them.
ENDPOINT_OVERRIDES = ("AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


def state_dir(env: Environment | None = None) -> Path:
    """Where the sandbox of ``env`` keeps its state (pid, port, token, log)."""
    root = repo_root()
    if env is None or env.dir.resolve().parent == (root / "envs").resolve():
        return root / ".sandbox"
    return env.dir / ".sandbox"


def start(env: Environment, port: int) -> str:
    """Start the environment's sandbox unless it runs, and return its endpoint."""
    if not 0 < port < 65536:
        raise InputError(f"--sandbox-port {port} is not a TCP port; use 1 to 65535")
    info, _started = process.up(state_dir(env), env.dir.resolve(), port=port)
    return info.endpoint


def running_endpoint(env: Environment) -> str | None:
    """The endpoint of the running sandbox, for an environment that has one; else None."""
    if not env.has_sandbox:
        return None
    info = process.status(state_dir(env))
    return None if info is None else info.endpoint


def _loopback(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    try:
        port = parts.port  # ValueError: not a number, or out of 0-65535
    except ValueError:
        return False
    return parts.scheme == "http" and port is not None and is_loopback(parts.hostname)


def terraform_environment(endpoint: str, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with the services the sandbox emulates pointed at ``endpoint``.

    The one place that tells Terraform (the aws provider) where the sandbox
    is; ``endpoint`` must be an http URL on loopback with a port, as
    :func:`start` returns it.
    """
    if not _loopback(endpoint):
        raise InputError(
            f"sandbox endpoint {endpoint!r} is not an http URL on loopback with a port; "
            "the local environment never talks to anything else (use http://127.0.0.1:<port>)"
        )
    variables = {k: v for k, v in base.items() if k not in ENDPOINT_OVERRIDES}
    for service in SANDBOX_SERVICES:
        variables[f"AWS_ENDPOINT_URL_{service}"] = endpoint
    return variables
