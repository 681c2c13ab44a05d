"""Starting, finding and stopping the sandbox server process.

The server writes its admin token (``sandbox.token``, mode 0600) and then
its state file (pid, host, port, endpoint) once it listens; ``up`` waits
for that file and for ``/regionguard/health`` to answer with the same pid.
``down`` stops a process only when the state file names it, its command line
is the sandbox server's with that state file, and it answers as the sandbox:
never a process that something else started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard.errors import InputError, RegionguardError
from regionguard.repo import command
from regionguard.sandbox.faults import ENV_VAR

DEFAULT_PORT = 4580
STATE_FILE = "sandbox.json"
LOG_FILE = "sandbox.log"
# Written by the server (regionguard.sandbox.server.TOKEN_FILE); admin calls send it.
TOKEN_FILE = "sandbox.token"
TOKEN_HEADER = "X-Regionguard-Token"
SERVER_MODULE = "regionguard.sandbox.server"


class SandboxError(RegionguardError):
    """The sandbox could not be started, reached or stopped (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class SandboxInfo:
    """A running sandbox."""

    pid: int
    host: str
    port: int
    endpoint: str
    env_dir: str
    state_file: Path
    log_file: Path
    # The admin token; empty when the state folder holds none.
    token: str = ""


def read_token(state_dir: Path) -> str:
    """The admin token the sandbox started from ``state_dir`` wrote; empty when there is none."""
    try:
        return (state_dir / TOKEN_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def state_paths(state_dir: Path) -> tuple[Path, Path]:
    return state_dir / STATE_FILE, state_dir / LOG_FILE


def health(endpoint: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The sandbox's health answer, or None when nothing answers as the sandbox."""
    try:
        with urllib.request.urlopen(f"{endpoint}/regionguard/health", timeout=timeout) as reply:
            data: dict[str, Any] = json.loads(reply.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return data if data.get("service") == "regionguard-sandbox" else None


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_ours(pid: int, state_file: Path) -> bool:
    cmd = _cmdline(pid)
    return SERVER_MODULE in cmd and str(state_file.resolve()) in cmd


def _read_state(state_file: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    return data


def status(state_dir: Path) -> SandboxInfo | None:
    """The sandbox started from ``state_dir`` when it runs and answers; None otherwise."""
    state_file, log_file = state_paths(state_dir)
    state = _read_state(state_file)
    if state is None:
        return None
    pid = int(state.get("pid", 0))
    if pid <= 0 or not _is_ours(pid, state_file):
        return None
    answer = health(state["endpoint"])
    if answer is None or answer.get("pid") != pid:
        return None
    return SandboxInfo(
        pid=pid,
        host=state["host"],
        port=int(state["port"]),
        endpoint=state["endpoint"],
        env_dir=state.get("envDir", ""),
        state_file=state_file,
        log_file=log_file,
        token=read_token(state_dir),
    )


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def _last_line(log_file: Path) -> str:
    try:
        lines = [line for line in log_file.read_text().splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def up(
    state_dir: Path,
    env_dir: Path,
    *,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    landing_zone_region_deny: bool | None = None,
    faults: str | None = None,
    timeout: float = 30.0,
) -> tuple[SandboxInfo, bool]:
    """Start the sandbox unless it runs; return it and whether it was started now."""
    state_file, log_file = state_paths(state_dir)
    running = status(state_dir)
    if running is not None:
        if port not in (0, running.port):
            raise SandboxError(
                f"the sandbox already runs on port {running.port} (pid {running.pid}); "
                f"run `{command('sandbox down')}` before starting it on port {port}"
            )
        return running, False
    if port and _port_in_use(host, port):
        other = health(f"http://{host}:{port}")
        if other is not None:
            raise SandboxError(
                f"{host}:{port} is used by a sandbox started elsewhere (pid {other.get('pid')}, "
                f"env {other.get('envDir')}); stop it there with `{command('sandbox down')}` "
                "or pass another --port (make: SANDBOX_PORT=N)"
            )
        raise SandboxError(
            f"{host}:{port} is in use by another process; pass another --port "
            "(make: SANDBOX_PORT=N)"
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        state_file.unlink()
    cmd = [
        sys.executable,
        "-m",
        SERVER_MODULE,
        "--host",
        host,
        "--port",
        str(port),
        "--env-dir",
        str(env_dir.resolve()),
        "--state-file",
        str(state_file.resolve()),
    ]
    if landing_zone_region_deny is not None:
        cmd += ["--landing-zone-region-deny", "on" if landing_zone_region_deny else "off"]
    env = dict(os.environ)
    if faults is not None:
        env[ENV_VAR] = faults
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            reason = _last_line(log_file) or f"exit status {code}"
            raise SandboxError(f"the sandbox did not start: {reason} (log: {log_file})")
        info = status(state_dir)
        if info is not None:
            return info, True
        time.sleep(0.1)
    _terminate(proc.pid)
    raise SandboxError(
        f"the sandbox did not answer within {timeout:g} s and was stopped (log: {log_file})"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie of ours counts as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _terminate(pid: int, grace: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def down(state_dir: Path) -> SandboxInfo | None:
    """Stop the sandbox that ``up`` started from ``state_dir``; None when none runs."""
    state_file, log_file = state_paths(state_dir)
    state = _read_state(state_file)
    if state is None:
        return None
    pid = int(state.get("pid", 0))
    if pid <= 0 or not _alive(pid) or not _is_ours(pid, state_file):
        # Stale: the process is gone or the pid now belongs to something else.
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()
        return None
    info = SandboxInfo(
        pid=pid,
        host=state["host"],
        port=int(state["port"]),
        endpoint=state["endpoint"],
        env_dir=state.get("envDir", ""),
        state_file=state_file,
        log_file=log_file,
    )
    _terminate(pid)
    with contextlib.suppress(FileNotFoundError):
        state_file.unlink()
    return info


def admin(
    endpoint: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str,
    timeout: float = 10.0,
) -> Any:
    """Call an admin endpoint of a running sandbox with its token; SandboxError with its message."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{endpoint}/regionguard/{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", TOKEN_HEADER: token},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", str(exc))
        except ValueError:
            message = str(exc)
        raise SandboxError(f"sandbox {method} /regionguard/{path}: {message}") from None
    except (OSError, urllib.error.URLError) as exc:
        raise SandboxError(f"the sandbox at {endpoint} does not answer: {exc}") from None


def set_landing_zone_region_deny(info: SandboxInfo, enabled: bool) -> dict[str, Any]:
    """Turn the landing-zone Region deny of a running sandbox on or off; the seeding report."""
    report: dict[str, Any] = admin(
        info.endpoint,
        "PUT",
        "landing-zone-region-deny",
        {"enabled": enabled},
        token=info.token,
    )
    return report


def require_running(state_dir: Path) -> SandboxInfo:
    info = status(state_dir)
    if info is None:
        raise InputError(
            f"no sandbox runs from {state_dir}; start it with `{command('sandbox up')}`"
        )
    return info
