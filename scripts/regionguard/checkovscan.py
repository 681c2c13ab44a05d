"""checkov over a saved plan's JSON: the one place Python runs checkov, and its report read.

:func:`start` starts checkov's Python before Terraform plans and has it load
checkov (most of checkov's time on a small plan is its imports), waiting;
:meth:`Scan.scan` hands it ``tfplan.json`` as soon as the file is written,
so that the scan, with the built-in checks and the custom checks of
``policies/checkov`` (``CKV_RG_*``), runs while the chain reviews the plan
and checks its facts; :meth:`Scan.wait` reads checkov's JSON report into
findings: a FAILED check is an error whose rule id is the check's id, whose
entry is the resource's address and whose message is the check's details.
Its verdict is what the gate record stores (docs/decisions.md, "One gate").
A checkov that is not a Python script of its own interpreter is run as is,
once the plan is there.

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

import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard import catalogue
from regionguard.errors import FindingsError, InputError
from regionguard.findings import Finding

__all__ = ["Installation", "Scan", "Verdict", "arguments", "installation", "read_report", "start"]

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


# What checkov's own script runs (bin/checkov: Checkov().run() with SyntaxWarnings
# ignored), after checkov is imported and the arguments have come on stdin.
_WARM = """\
import json, sys, warnings
from checkov.main import Checkov
line = sys.stdin.readline()
if not line.strip():
    sys.exit(0)
sys.argv = ["checkov", *json.loads(line)]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=SyntaxWarning)
    sys.exit(Checkov(sys.argv[1:]).run())
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


def read_report(stdout: str, stderr: str, returncode: int, plan_json: Path) -> Verdict:
    """checkov's JSON report (``--output json``) as a verdict; FindingsError when it is none.

    A report checkov could not finish (an exit code other than 0 or 1, no
    JSON, a parsing error, a failure count without failed checks) gives no
    verdict: the plan does not pass on it (fail closed).
    """
    where = f"checkov over {plan_json}"
    if returncode not in (0, 1):
        raise FindingsError(f"{where} exited {returncode}: {_tail(stderr)}")
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


class Scan:
    """One checkov process: started early, handed one plan JSON, then waited for or stopped."""

    def __init__(self, install: Installation, timeout: float) -> None:
        self.install = install
        self.timeout = timeout
        self.plan_json: Path | None = None
        self.deadline = 0.0
        self._folder = tempfile.TemporaryDirectory(prefix="regionguard-checkov-")
        self._output = Path(self._folder.name)
        self._process: subprocess.Popen[bytes] | None = None
        python = install.python
        if python is not None:
            self._process = self._popen([str(python), "-c", _WARM], stdin=subprocess.PIPE)

    def _popen(self, command: list[str], stdin: int) -> subprocess.Popen[bytes]:
        work = self._output / "work"
        work.mkdir(exist_ok=True)
        variables = {k: os.environ[k] for k in PASSED_VARIABLES if k in os.environ}
        variables["HOME"] = str(work)
        with (
            (self._output / "stdout").open("wb") as stdout,
            (self._output / "stderr").open("wb") as stderr,
        ):
            return subprocess.Popen(
                command,
                cwd=work,
                env=variables,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # Ctrl-C reaches the chain, which stops checkov
            )

    def scan(self, plan_json: Path) -> None:
        """Scan ``plan_json``: hand it to the waiting checkov, or start checkov on it."""
        self.plan_json = plan_json
        self.deadline = time.monotonic() + self.timeout
        args = arguments(self.install, plan_json)
        if self._process is None:
            command = [str(self.install.checkov), *args]
            self._process = self._popen(command, stdin=subprocess.DEVNULL)
            return
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(args).encode("utf-8") + b"\n")
            stdin.close()
        except BrokenPipeError:
            pass  # checkov ended already: wait() reads why

    def wait(self) -> Verdict:
        """Wait for checkov and read its report; FindingsError when it gives no verdict."""
        if self._process is None or self.plan_json is None:
            raise FindingsError("checkov was given no plan to scan")
        try:
            returncode = self._process.wait(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            raise FindingsError(
                f"checkov over {self.plan_json} ran out of time (TF_TIMEOUT); nothing was "
                "checked, so the plan does not pass"
            ) from None
        stdout, stderr = (
            (self._output / name).read_text("utf-8", errors="replace")
            for name in ("stdout", "stderr")
        )
        self._folder.cleanup()
        return read_report(stdout, stderr, returncode, self.plan_json)

    def stop(self) -> None:
        """Stop checkov and what it started, if it still runs, and wait for it."""
        process = self._process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=_STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        self._folder.cleanup()


@contextmanager
def start(*, timeout: float, install: Installation | None = None) -> Iterator[Scan]:
    """A checkov ready to scan a plan (:meth:`Scan.scan`); stopped when the block is left."""
    scan = Scan(install or installation(), timeout)
    try:
        yield scan
    finally:
        scan.stop()
