"""The local sandbox of an environment: started for a plan, found by every other command.

An environment with a ``sandbox.yaml`` runs against the sandbox of
:mod:`regionguard.sandbox` on loopback. The environments of ``envs/``
(``local``) share the repository's ``.sandbox/`` folder (docs/sandbox.md); an
environment folder anywhere else, such as a rehearsal's copy
(``.rehearse/<env>``, :mod:`regionguard.rehearsal`), keeps a sandbox of its own
in its ``.sandbox/`` folder, so that the two never answer for each other.
"""

from __future__ import annotations

from pathlib import Path

from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.repo import repo_root
from regionguard.sandbox import process

__all__ = ["running_endpoint", "start", "state_dir"]


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
