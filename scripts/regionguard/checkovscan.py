"""checkov over a saved plan's JSON: the one place Python runs checkov, and its report read.

:func:`start` starts checkov's Python before Terraform plans and has it load
checkov (most of checkov's time on a small plan is its imports), waiting;
:meth:`Scan.scan` hands it ``tfplan.json`` as soon as the file is written,
and the loaded interpreter forks a child that scans it, with the built-in
checks and the custom checks of ``policies/checkov`` (``CKV_RG_*``), while
the chain reviews the plan and checks its facts; :meth:`Scan.wait` reads
checkov's JSON report into findings: a FAILED check is an error whose rule
id is the check's id, whose entry is the resource's address and whose
message is the check's details. Its verdict is what the gate record stores
(docs/decisions.md, "One gate"). The loaded interpreter stays, idle, for
the next scan of the same process (``regionguard`` commands called one after
the other in one Python, as the tests do), so each child starts from
checkov freshly imported and nothing one scan loads reaches the next; it
ends when the process does (:func:`unload`). A checkov that is not a Python
script of its own interpreter is run as is, once the plan is there.

Which checkov, and which checks (:func:`installation`): ``$REGIONGUARD_CHECKOV``
(the Makefile sets it to ``.venv-checkov/bin/checkov``), else the pinned
installation under ``$REGIONGUARD_HOME`` (the Atlantis server's layout,
docs/atlantis.md), else ``.venv-checkov`` beside this package's source; the
checks come from ``$REGIONGUARD_HOME/src`` or this package's source, never
from the plan's folder or the working directory. checkov runs in an empty working folder
with an empty home, so that no ``.checkov.yaml`` it would find there can
skip a check, and with an environment of a few known variables; the checks
it skips are the catalogue's (:data:`regionguard.catalogue.SKIPPED_CHECKS`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard import catalogue
from regionguard.errors import FindingsError, InputError
from regionguard.findings import Finding

__all__ = [
    "Installation",
    "Scan",
    "Verdict",
    "arguments",
    "installation",
    "read_report",
    "start",
    "unload",
]

# The package's source tree when it is installed from a checkout (make venv: editable).
SOURCE = Path(__file__).resolve().parents[2]
CHECKS = Path("policies", "checkov")
# Variables checkov may see: what a process needs, and the custom checks' one setting.
PASSED_VARIABLES = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "REGIONGUARD_CONTROL_IDENTIFIERS",
)
# A graph check's reason on stderr (policies/checkov/ExemptionsGuarded.py prints them).
_GRAPH_DETAIL = re.compile(r"^(?P<id>CKV_RG_\d+) (?P<address>\S+): (?P<reason>.+)$")
_STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Installation:
    """The checkov binary and the folder of the custom checks it loads."""

    checkov: Path
    checks: Path

    @property
    def python(self) -> Path | None:
        """The interpreter of the checkov script (its ``#!`` line), or None when it has none."""
        try:
            with self.checkov.open("rb") as handle:
                first = handle.readline(4096)
        except OSError:
            return None
        if not first.startswith(b"#!"):
            return None
        words = first[2:].decode("utf-8", errors="replace").split()
        interpreter = Path(words[0]) if len(words) == 1 else None
        if interpreter is None or not interpreter.name.startswith("python"):
            return None
        return interpreter if interpreter.is_absolute() and interpreter.is_file() else None


def installation(environ: Mapping[str, str] | None = None) -> Installation:
    """Which checkov runs, with which checks; InputError (exit 2) when either is missing."""
    environ = os.environ if environ is None else environ
    home = environ.get("REGIONGUARD_HOME", "").strip()
    source = Path(home) / "src" if home else SOURCE
    explicit = environ.get("REGIONGUARD_CHECKOV", "").strip()
    if explicit:
        checkov = Path(explicit)
    elif home:
        checkov = Path(home) / "checkov" / "bin" / "checkov"
    else:
        checkov = SOURCE / ".venv-checkov" / "bin" / "checkov"
    checks = source / CHECKS
    if not (checks / "_rg_common.py").is_file():
        where = "$REGIONGUARD_HOME/src" if home else f"this regionguard's source ({SOURCE})"
        raise InputError(
            f"{checks}: no checkov checks in {where}; install regionguard from a checkout "
            "(`make venv`), or set REGIONGUARD_HOME to a pinned installation (docs/atlantis.md)"
        )
    if not (checkov.is_file() and os.access(checkov, os.X_OK)):
        raise InputError(
            f"{checkov}: checkov is not installed there, and the plan's checkov stage needs "
            "it; run `make check` once (it creates .venv-checkov from "
            "policies/requirements.txt), or set REGIONGUARD_CHECKOV to that checkov"
        )
    return Installation(checkov, checks)


def arguments(install: Installation, plan_json: Path) -> list[str]:
    """checkov's arguments over one plan JSON: every check but the skipped, JSON out."""
    return [
        "--quiet",
        "--skip-download",
        "--framework",
        "terraform_plan",
        "--external-checks-dir",
        str(install.checks),
        "--skip-check",
        ",".join(c.id for c in catalogue.SKIPPED_CHECKS),
        "--output",
        "json",
        "--file",
        str(plan_json.resolve()),
    ]


# checkov's interpreter with checkov imported. For each request (one JSON line
# on stdin) it forks a child that runs what checkov's own script runs
# (bin/checkov: Checkov().run() with SyntaxWarnings ignored) in the request's
# folder, with the request's variables only and its output in the request's
# files; it answers one line with the child's pid once forked, one with its
# exit code (negative: the signal that ended it) once it ended, and it ends
# when stdin does. Nothing else reaches that pipe: the interpreter's own
# stdout is /dev/null before checkov is imported, and the child closes it.
# The child starts from the interpreter as the import left it, so what a scan
# loads (the custom checks, their variables) dies with it.
_LOADED = """\
import json, os, sys, traceback, warnings
replies = os.fdopen(os.dup(1), "w", buffering=1)
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 1)
from checkov.main import Checkov
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()
            replies.close()
            os.dup2(null, 0)
            for fd, name in ((1, "stdout"), (2, "stderr")):
                out = os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(out, fd)
                os.close(out)
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["env"])
            sys.argv = ["checkov", *request["args"]]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=SyntaxWarning)
                result = Checkov(sys.argv[1:]).run()
            code = 0 if result is None else result
        except SystemExit as stop:
            code = 0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code if 0 <= code < 256 else 1)
    replies.write(f"{pid}\\n")
    _, status = os.waitpid(pid, 0)
    replies.write(f"{os.waitstatus_to_exitcode(status)}\\n")
"""


@dataclass(frozen=True)
class Verdict:
    """What checkov said about one plan."""

    version: str
    passed: int
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return bool(self.findings)


def _sections(report: Any) -> list[dict[str, Any]]:
    sections = report if isinstance(report, list) else [report]
    if not all(isinstance(s, dict) for s in sections):
        raise ValueError("a section of the report is not an object")
    return sections


_UNLOADED = re.compile(r"Cannot load external check '([^']*)'")


def read_report(stdout: str, stderr: str, returncode: int, plan_json: Path) -> Verdict:
    """checkov's JSON report (``--output json``) as a verdict; FindingsError when it is none.

    A report checkov could not finish (an exit code other than 0 or 1, no
    JSON, a parsing error, a failure count without failed checks) gives no
    verdict: the plan does not pass on it (fail closed).
    """
    where = f"checkov over {plan_json}"
    if returncode not in (0, 1):
        raise FindingsError(f"{where} exited {returncode}: {_tail(stderr)}")
    # checkov logs a check of --external-checks-dir it cannot import and goes
    # on without it, exit 0: the project's checks would pass by not running.
    unloaded = sorted(set(_UNLOADED.findall(stderr)))
    if unloaded:
        raise FindingsError(
            f"{where}: checkov could not load the project's checks {', '.join(unloaded)}, so "
            f"they did not run; nothing they check was checked: {_tail(stderr)}"
        )
    try:
        sections = _sections(json.loads(stdout))
    except ValueError as exc:
        raise FindingsError(f"{where} wrote no JSON report ({exc}): {_tail(stderr)}") from None
    details: dict[tuple[str, str], list[str]] = {}
    for line in stderr.splitlines():
        match = _GRAPH_DETAIL.match(line.strip())
        if match:
            details.setdefault((match["id"], match["address"]), []).append(match["reason"])
    findings: list[Finding] = []
    version, passed, failed = "", 0, 0
    for section in sections:
        summary = section.get("summary", section)
        version = str(summary.get("checkov_version") or version)
        passed += int(summary.get("passed", 0))
        failed += int(summary.get("failed", 0))
        if int(summary.get("parsing_errors", 0)):
            raise FindingsError(f"{where}: checkov could not parse the plan: {_tail(stderr)}")
        for record in section.get("results", {}).get("failed_checks", []):
            check_id = str(record["check_id"])
            address = str(record.get("resource_address") or record.get("resource") or "")
            reasons = list(record.get("details") or []) or details.get((check_id, address), [])
            rule = catalogue.by_id(check_id)
            title = rule.title if rule else str(record.get("check_name") or check_id)
            message = "; ".join(reasons) if reasons else title
            findings.append(Finding(check_id, "error", message, file=str(plan_json), entry=address))
    if failed != len(findings) or (returncode == 1) != bool(findings) or not version:
        raise FindingsError(
            f"{where}: the report does not add up ({failed} failed, {len(findings)} listed, "
            f"exit {returncode}): {_tail(stderr)}"
        )
    return Verdict(version, passed, tuple(findings))


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " / ".join(kept) or "(nothing on stderr)"


def _variables() -> dict[str, str]:
    """The variables checkov sees: :data:`PASSED_VARIABLES` of this process's environment."""
    return {k: os.environ[k] for k in PASSED_VARIABLES if k in os.environ}


def _key(python: Path, variables: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Which loaded interpreters can serve a scan: the same Python, the same variables."""
    return str(python), tuple(sorted(variables.items()))


class _Loaded:
    """One checkov interpreter with checkov imported (:data:`_LOADED`), forking a child per scan."""

    def __init__(self, python: Path, variables: dict[str, str]) -> None:
        self.key = _key(python, variables)
        self._folder = tempfile.TemporaryDirectory(prefix="regionguard-checkov-loaded-")
        home = Path(self._folder.name) / "home"
        home.mkdir()
        self.stderr = Path(self._folder.name) / "stderr"
        self._buffer = b""
        # A line it answered that is not a number (the protocol broken), for failure().
        self._stray: str | None = None
        with self.stderr.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(python), "-c", _LOADED],
                cwd=home,
                env={**variables, "HOME": str(home)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,  # Ctrl-C reaches the chain, which stops checkov
            )

    def send(self, request: dict[str, Any]) -> bool:
        """Hand one scan to the interpreter; False when it has ended."""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            stdin.flush()
        except (BrokenPipeError, ValueError):
            return False
        return True

    def answer(self, deadline: float) -> int | None:
        """The interpreter's next line as a number: None when it ended; TimeoutError at deadline."""
        stdout = self.process.stdout
        assert stdout is not None
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([stdout], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return int(line)
        except ValueError:
            # Not the protocol: the interpreter is of no further use, and what
            # it does next is not waited for.
            self._stray = line.decode("utf-8", errors="replace")[:200]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            return None

    def _end(self) -> None:
        """Wait for the interpreter to end; past the grace, kill its group."""
        try:
            self.process.wait(timeout=_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def failure(self) -> tuple[int, str]:
        """Why the interpreter ended (its exit code and stderr); it is closed after."""
        self._end()
        stderr = self.stderr.read_text("utf-8", errors="replace")
        if self._stray is not None:
            stderr += f"\nthe loaded checkov answered {self._stray!r}, not a process id"
        self.close()
        return self.process.returncode, stderr

    def close(self) -> None:
        """End the interpreter (stdin closed, then killed if it stays) and remove its folder."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        self._end()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._folder.cleanup()


# The loaded interpreters no scan holds, by interpreter and variables.
_IDLE: list[_Loaded] = []
_IDLE_LOCK = threading.Lock()


def _take(python: Path, variables: dict[str, str]) -> _Loaded:
    """An idle interpreter of ``python`` loaded with ``variables``, or a new one."""
    key = _key(python, variables)
    with _IDLE_LOCK:
        for loaded in _IDLE:
            if loaded.key == key and loaded.process.poll() is None:
                _IDLE.remove(loaded)
                return loaded
    return _Loaded(python, variables)


def _give_back(loaded: _Loaded) -> None:
    with _IDLE_LOCK:
        if loaded.process.poll() is None:
            _IDLE.append(loaded)
            return
    loaded.close()


def unload() -> None:
    """End the idle checkov interpreters (at exit; a scan under way keeps its own)."""
    with _IDLE_LOCK:
        idle = list(_IDLE)
        _IDLE.clear()
    for loaded in idle:
        loaded.close()


atexit.register(unload)


class Scan:
    """One scan: checkov loaded early, handed one plan JSON, then waited for or stopped."""

    def __init__(self, install: Installation, timeout: float) -> None:
        self.install = install
        self.timeout = timeout
        self.plan_json: Path | None = None
        self.deadline = 0.0
        self._folder = tempfile.TemporaryDirectory(prefix="regionguard-checkov-")
        self._output = Path(self._folder.name)
        self._variables = _variables()
        # A checkov run as is (no Python script of its own interpreter).
        self._process: subprocess.Popen[bytes] | None = None
        # Or a loaded interpreter, and the child that scans for this Scan.
        self._loaded: _Loaded | None = None
        self._sent = False  # the loaded interpreter was handed this scan
        self._late = False  # and did not say within the time that it forked
        self._child: int | None = None
        self._code: int | None = None
        python = install.python
        if python is not None:
            self._loaded = _take(python, self._variables)

    def _work(self) -> Path:
        work = self._output / "work"
        work.mkdir(exist_ok=True)
        return work

    def scan(self, plan_json: Path) -> None:
        """Scan ``plan_json``: hand it to the loaded checkov, or start checkov on it."""
        self.plan_json = plan_json
        self.deadline = time.monotonic() + self.timeout
        args = arguments(self.install, plan_json)
        work = self._work()
        variables = {**self._variables, "HOME": str(work)}
        if self._loaded is None:
            with (
                (self._output / "stdout").open("wb") as stdout,
                (self._output / "stderr").open("wb") as stderr,
            ):
                self._process = subprocess.Popen(
                    [str(self.install.checkov), *args],
                    cwd=work,
                    env=variables,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,  # Ctrl-C reaches the chain, which stops checkov
                )
            return
        request = {
            "args": args,
            "cwd": str(work),
            "env": variables,
            "stdout": str(self._output / "stdout"),
            "stderr": str(self._output / "stderr"),
        }
        self._sent = self._loaded.send(request)
        if self._sent:
            try:
                self._child = self._loaded.answer(self.deadline)
            except TimeoutError:
                self._late = True  # wait() says it ran out of time

    def _wait_loaded(self, loaded: _Loaded) -> tuple[int, str]:
        """The child's exit code and stderr; TimeoutError past the deadline."""
        if self._late:
            raise TimeoutError
        if self._child is not None:
            self._code = loaded.answer(self.deadline)
            if self._code is not None:
                return self._code, self._read("stderr")
        # The interpreter ended before or while it scanned: its own reason.
        self._loaded = None
        code, stderr = loaded.failure()
        return code, stderr + self._read("stderr")

    def _read(self, name: str) -> str:
        path = self._output / name
        return path.read_text("utf-8", errors="replace") if path.is_file() else ""

    def wait(self) -> Verdict:
        """Wait for checkov and read its report; FindingsError when it gives no verdict."""
        if self.plan_json is None or (self._process is None and self._loaded is None):
            raise FindingsError("checkov was given no plan to scan")
        try:
            if self._loaded is not None:
                returncode, stderr = self._wait_loaded(self._loaded)
            else:
                assert self._process is not None
                returncode = self._process.wait(timeout=max(0.0, self.deadline - time.monotonic()))
                stderr = self._read("stderr")
        except (subprocess.TimeoutExpired, TimeoutError):
            self.stop()
            raise FindingsError(
                f"checkov over {self.plan_json} ran out of time (TF_TIMEOUT); nothing was "
                "checked, so the plan does not pass"
            ) from None
        stdout = self._read("stdout")
        self.stop()
        return read_report(stdout, stderr, returncode, self.plan_json)

    def stop(self) -> None:
        """Stop what still scans for this Scan, and wait; an idle checkov waits for the next."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            _end_group(process.pid, process.wait)
        loaded, self._loaded = self._loaded, None
        if loaded is not None:
            if self._child is not None and self._code is None:
                # The child still scans (interrupted, or out of time): end it;
                # the interpreter reaps it and answers.
                def reaped(timeout: float) -> None:
                    try:
                        self._code = loaded.answer(time.monotonic() + timeout)
                    except TimeoutError:
                        raise subprocess.TimeoutExpired("checkov", timeout) from None

                _end_group(self._child, reaped)
            if self._sent and self._code is None:
                # Handed a scan whose answers were not all read: never reused,
                # or the next scan would read this one's.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(loaded.process.pid, signal.SIGKILL)
                loaded.close()
            else:
                _give_back(loaded)
        self._folder.cleanup()


def _end_group(pid: int, wait: Any) -> None:
    """SIGTERM process group ``pid``, SIGKILL it after the grace, and wait for its leader.

    A process forked an instant ago may not lead a group yet: then the
    signal goes to the process alone.
    """
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        try:
            wait(timeout=_STOP_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def start(*, timeout: float, install: Installation | None = None) -> Iterator[Scan]:
    """A checkov ready to scan a plan (:meth:`Scan.scan`); stopped when the block is left."""
    scan = Scan(install or installation(), timeout)
    try:
        yield scan
    finally:
        scan.stop()
