"""The one place where Python drives the terraform binary.

Command lines are built by python-terraform (``generate_cmd_string``); the
process is run here, because python-terraform can neither bound a command by
a timeout nor stop it cleanly (see docs/decisions.md, "Stopping Terraform").

How a command is stopped:

- Terraform runs in a session of its own, under a small process of one
  thread (``regionguard.terraform_guard``), so a Ctrl-C or a signal to the
  process group of ``make`` reaches only ``regionguard``, which passes it on
  as SIGINT through that process (Terraform stops cleanly and releases its
  state lock) and waits for Terraform to exit. While a command runs, SIGINT
  and SIGTERM are only noted (on the main thread): no exception can land in
  the middle of starting Terraform or waiting for it. Every SIGINT is passed on (a second
  one is Terraform's own "exit now"); a SIGTERM is passed on only when no
  interrupt was yet (``make`` passes SIGTERM on to its child, so a SIGTERM
  to its process group arrives twice).
- On Linux, Terraform gets one SIGINT when ``regionguard`` dies (the guard's
  parent-death signal, which can come once per thread of ``regionguard``,
  passed on once), so a SIGKILL of ``regionguard`` stops it cleanly too.
- Terraform writes its output to files under ``<working dir>/.regionguard/``
  (never to pipes: a Terraform whose reader died would die of SIGPIPE on its
  next line, mid-apply, with the lock held), beside a run file that exists
  while it runs. The next command in that directory refuses to start while
  an earlier Terraform still runs (exit 2), and warns when one did not
  finish under ``regionguard``.
- A command over its timeout gets SIGINT, then SIGKILL of its process group
  (the guard, Terraform and its providers) after a grace period.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from python_terraform import IsFlagged
from python_terraform import Terraform as _CommandBuilder

from regionguard.atomic import write_atomic
from regionguard.errors import InputError, RegionguardError
from regionguard.terraform_guard import PARENT_DIED, PR_SET_PDEATHSIG, WATCHED, libc_prctl

__all__ = [
    "RUN_DIR",
    "IsFlagged",
    "Terraform",
    "TerraformError",
    "TerraformInterrupted",
    "TerraformResult",
    "terminate_as_interrupt",
]

# Where a command's run file and output live, in its working directory.
RUN_DIR = ".regionguard"
# Grace period between SIGINT (Terraform stops cleanly and releases its state
# lock) and SIGKILL when a command outlives its timeout.
_INTERRUPT_GRACE_SECONDS = 15.0
# How often the wait for Terraform looks at the signals noted meanwhile.
_POLL_SECONDS = 0.05
# The process regionguard starts for each command; Terraform is its child.
_GUARD = Path(__file__).with_name("terraform_guard.py")
# Commands that take the state lock: one that did not finish may have left it held.
_LOCKING_COMMANDS = frozenset(
    {"apply", "destroy", "import", "plan", "refresh", "state", "taint", "untaint"}
)
_run_numbers = itertools.count(1)


class TerraformError(RegionguardError):
    """A terraform command failed or ran out of time (exit 1; its own output says why)."""

    exit_code = 1

    def __init__(self, message: str, result: TerraformResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class TerraformInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a terraform command; Terraform has exited.

    ``result`` is None when the interrupt came before Terraform started (it
    was then never started).
    """

    def __init__(self, message: str, result: TerraformResult | None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class TerraformResult:
    """What one terraform command returned."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Terraform:
    """Runs terraform commands in one working directory, each bounded by a timeout."""

    def __init__(
        self,
        working_dir: Path,
        *,
        timeout: float = 900.0,
        env: Mapping[str, str] | None = None,
        binary: str = "terraform",
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """``progress`` receives each line Terraform prints on stdout, as it prints it."""
        self.working_dir = Path(working_dir)
        self.timeout = timeout
        self.progress = progress
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("TF_IN_AUTOMATION", "1")
        self.env.setdefault("TF_INPUT", "0")
        self._builder = _CommandBuilder(working_dir=None, terraform_bin_path=binary)

    def run(
        self,
        command: str,
        *args: str,
        check: bool = True,
        timeout: float | None = None,
        **options: Any,
    ) -> TerraformResult:
        """Run ``terraform COMMAND`` with python-terraform style options."""
        options.setdefault("no_color", IsFlagged)
        cmd = tuple(self._builder.generate_cmd_string(command, *args, **options))
        limit = self.timeout if timeout is None else timeout
        with _noted_signals() as noted:
            result, timed_out = self._run(command, cmd, limit, noted)
        where = f"terraform {command} in {self.working_dir}"
        if noted.received:
            raise TerraformInterrupted(f"{where} was interrupted", result)
        assert result is not None  # only an interrupt leaves Terraform unstarted
        if timed_out:
            raise TerraformError(
                f"{where} did not finish within {limit:g} s and was stopped", result
            )
        if check and result.returncode != 0:
            raise TerraformError(
                f"{where} failed (exit {result.returncode}):\n"
                f"{result.stderr.strip() or result.stdout.strip()}",
                result,
            )
        return result

    def _run(
        self, command: str, cmd: tuple[str, ...], limit: float, noted: _NotedSignals
    ) -> tuple[TerraformResult | None, bool]:
        """Start Terraform unless an interrupt came first, wait for it; (result, timed out)."""
        _check_earlier_runs(self.working_dir)
        run = _RunFile.create(self.working_dir, command, cmd)
        try:
            if noted.received:
                run.remove(keep_output=False)
                return None, False
            _check_binary(cmd[0], self.working_dir, self.env)
            with run.stdout.open("wb") as out, run.stderr.open("wb") as err:
                proc = subprocess.Popen(
                    _guarded(cmd),
                    cwd=self.working_dir,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    preexec_fn=_child_setup(os.getpid(), run.pid_file),
                )
        except BaseException:
            run.remove(keep_output=False)
            raise
        try:
            run.started(proc.pid)
            tail = _Tail(run.stdout, self.progress)
            timed_out = _wait(proc, command, limit, noted, tail)
            tail.read()
        except BaseException:
            # Not a signal (those are only noted): a failure of this process
            # while Terraform runs. Stop it as a timeout would.
            _stop(proc)
            run.remove(keep_output=True)
            raise
        result = TerraformResult(cmd, proc.returncode, run.read_stdout(), run.read_stderr())
        if noted.received:
            _say(
                f"terraform {command} stopped after the interrupt (exit {proc.returncode}); "
                f"its output: {run.stdout} and {run.stderr}"
            )
        run.remove(keep_output=bool(noted.received))
        return result, timed_out

    def init(self, *, backend: bool = True, backend_config: str | None = None) -> TerraformResult:
        return self.run("init", input=False, backend=backend, backend_config=backend_config)

    def validate(self) -> TerraformResult:
        return self.run("validate")

    def plan(
        self,
        out: Path | None = None,
        *,
        variables: Mapping[str, str] | None = None,
        destroy: bool = False,
        refresh_only: bool = False,
        lock_timeout: str | None = None,
        lock: bool = True,
    ) -> bool:
        """Plan; return True when the plan has changes.

        ``lock=False`` plans without taking the state lock (``-lock=false``),
        for a role that may read the state but not write its lock object.
        """
        result = self.run(
            "plan",
            check=False,
            input=False,
            lock=None if lock else False,
            lock_timeout=lock_timeout if lock else None,
            detailed_exitcode=IsFlagged,
            out=str(out) if out else None,
            destroy=IsFlagged if destroy else None,
            refresh_only=IsFlagged if refresh_only else None,
            var=_var_list(variables),
        )
        if result.returncode not in (0, 2):
            raise TerraformError(
                f"terraform plan in {self.working_dir} failed (exit {result.returncode}):\n"
                f"{result.stderr.strip() or result.stdout.strip()}",
                result,
            )
        return result.returncode == 2

    def show_json(self, plan: Path | None = None) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.show_json_text(plan))
        return data

    def show_json_text(self, plan: Path | None = None) -> str:
        """``terraform show -json [PLAN]`` as Terraform printed it."""
        args = (str(plan),) if plan else ()
        return self.run("show", *args, json=IsFlagged).stdout

    def apply(
        self,
        plan: Path | None = None,
        *,
        variables: Mapping[str, str] | None = None,
        lock_timeout: str | None = None,
    ) -> TerraformResult:
        if plan is not None:
            return self.run(
                "apply",
                str(plan),
                input=False,
                lock_timeout=lock_timeout,
                parallelism=APPLY_PARALLELISM,
            )
        return self.run(
            "apply",
            input=False,
            auto_approve=IsFlagged,
            var=_var_list(variables),
            parallelism=APPLY_PARALLELISM,
        )

    def destroy(
        self, *, variables: Mapping[str, str] | None = None, lock_timeout: str | None = None
    ) -> TerraformResult:
        return self.run(
            "destroy",
            input=False,
            auto_approve=IsFlagged,
            lock_timeout=lock_timeout,
            var=_var_list(variables),
            parallelism=APPLY_PARALLELISM,
        )

    def output(self) -> dict[str, Any]:
        result = self.run("output", json=IsFlagged)
        raw: dict[str, Any] = json.loads(result.stdout or "{}")
        return {name: item.get("value") for name, item in raw.items()}


# Terraform's -parallelism for apply and destroy. Each control's create,
# update or delete waits for its Control Tower operation, so this bounds the
# operations one apply has in progress: at the default 10 a first apply at
# 200 OUs waits for 20 rounds of operations (about 53 minutes at 120 s each,
# docs/benchmarks.md); at 50 it waits for 4 (about 16), and half of AWS's
# quota of 100 operations in progress stays free for the console and other
# pipelines.
APPLY_PARALLELISM = 50


def _var_list(variables: Mapping[str, str] | None) -> list[str] | None:
    # python-terraform turns a dict of variables into a temporary var file and
    # a list into repeated -var options; repeated options leave nothing behind.
    if not variables:
        return None
    return [f"{k}={v}" for k, v in variables.items()]


# ------------------------------------------------------------------ signals


class _NotedSignals:
    """A signal handler that notes SIGINT and SIGTERM while a command runs.

    Once the command is over (``active`` False) it raises KeyboardInterrupt
    as Python's own SIGINT handler does, so a handler left installed by a
    restore that a signal cut short still stops the program.
    """

    def __init__(self) -> None:
        self.active = True
        self.received: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if not self.active:
            raise KeyboardInterrupt
        self.received.append(signum)


@contextmanager
def _noted_signals() -> Iterator[_NotedSignals]:
    """Note SIGINT and SIGTERM instead of raising, for the duration of the block.

    Python runs signal handlers on the main thread only, so elsewhere nothing
    is installed. A signal the process ignores (SIGINT in a background job of
    a non-interactive shell) stays ignored, as Python leaves it.
    """
    noted = _NotedSignals()
    previous: dict[signal.Signals, Any] = {}
    try:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    previous[signum] = signal.signal(signum, noted)
        yield noted
    finally:
        noted.active = False
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the block as Ctrl-C does (KeyboardInterrupt).

    Inside :meth:`Terraform.run`, both are passed on to Terraform, which is
    waited for.
    """
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Tail:
    """The lines Terraform has written to its output file so far, each handed on once."""

    def __init__(self, path: Path, receiver: Callable[[str], None] | None) -> None:
        self.path = path
        self.receiver = receiver
        self.offset = 0
        self.partial = b""

    def read(self) -> None:
        if self.receiver is None:
            return
        try:
            with self.path.open("rb") as stream:
                stream.seek(self.offset)
                chunk = stream.read()
        except OSError:
            return
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        for line in lines:
            self.receiver(line.decode("utf-8", errors="replace"))


def _wait(
    proc: subprocess.Popen[bytes],
    command: str,
    limit: float,
    noted: _NotedSignals,
    tail: _Tail,
) -> bool:
    """Wait for Terraform, passing interrupts on; True when it outlived ``limit``."""
    deadline = time.monotonic() + limit
    kill_at: float | None = None
    seen = forwarded = 0
    while True:
        while seen < len(noted.received):
            signum = noted.received[seen]
            seen += 1
            name = signal.Signals(signum).name
            if forwarded and signum != signal.SIGINT:
                _say(f"{name} received: terraform {command} is already stopping; waiting for it")
                continue
            _interrupt(proc)
            forwarded += 1
            if forwarded == 1:
                _say(
                    f"{name} received: interrupting terraform {command} (pid {proc.pid}); "
                    "waiting for it to stop cleanly and release its state lock"
                )
            else:
                _say(
                    f"{name} received again: passed on; Terraform stops at once and may "
                    "not save its state"
                )
        try:
            proc.wait(timeout=_POLL_SECONDS)
            return kill_at is not None
        except subprocess.TimeoutExpired:
            pass
        tail.read()
        now = time.monotonic()
        if kill_at is None and now >= deadline:
            _interrupt(proc)
            kill_at = now + _INTERRUPT_GRACE_SECONDS
        elif kill_at is not None and now >= kill_at:
            _kill_group(proc)
            proc.wait()
            return True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Interrupt the command, then kill its process group if it lingers."""
    _interrupt(proc)
    try:
        proc.wait(timeout=_INTERRUPT_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.wait()


def _interrupt(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT to the guard, which passes it on to Terraform (never to the group: twice)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The guard leads its own session and process group: Terraform and its
    # providers are in it.
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _guarded(cmd: tuple[str, ...]) -> tuple[str, ...]:
    """The command line that runs ``cmd`` under the guard (standard library only: ``-I -S``)."""
    return (sys.executable, "-I", "-S", str(_GUARD), *cmd)


def _check_binary(binary: str, working_dir: Path, env: Mapping[str, str]) -> None:
    """FileNotFoundError, as ``subprocess.Popen`` raises it, when ``binary`` cannot be run.

    The guard starts Terraform; a Terraform that is not there is told here,
    before anything starts, as it was when regionguard started it itself. A
    relative path with a folder is taken from the working directory, as the
    guard, started there, takes it.
    """
    if os.sep in binary and not os.path.isabs(binary):
        binary = str(working_dir / binary)
    if shutil.which(binary, path=env.get("PATH", os.defpath)) is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), binary)


def _say(message: str) -> None:
    print(f"regionguard: {message}", file=sys.stderr, flush=True)


def _child_setup(parent: int, pid_file: Path) -> Callable[[], None]:
    """What the guard's process (Terraform's parent) does between fork and exec."""
    prctl = libc_prctl()
    pid_path = os.path.abspath(pid_file)  # the child has changed to the working directory

    def setup() -> None:
        # An ignored SIGINT would be inherited through exec: the interrupt
        # passed on must reach Terraform.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        # Held (the mask survives exec) until the guard's handlers are in
        # place: a signal during Python's start waits for them.
        signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(PARENT_DIED), 0, 0, 0)
            if os.getppid() != parent:
                # regionguard died before the line above took effect: start nothing.
                os._exit(130)
        # Its pid, for the next command, before Terraform does anything: the
        # parent may be killed before it records it in the run file. A safety
        # net only; failing to write it does not stop the command.
        with contextlib.suppress(OSError):
            fd = os.open(pid_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"%d\n" % os.getpid())
            finally:
                os.close(fd)

    return setup


# ------------------------------------------------------------ run files


def _started_at(pid: int) -> int | None:
    """When a running process started (clock ticks since boot; 0 where unknown); None once gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
    except OSError:
        pass
    else:
        fields = stat.rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    try:  # no /proc: alive is all that can be told
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return 0


def _runs(pid: int | None, start: int | None) -> bool:
    """Whether the process recorded as (pid, start) still runs (not a later one with its pid)."""
    if pid is None:
        return False
    now = _started_at(pid)
    return now is not None and (not now or not start or now == start)


@dataclass(frozen=True)
class _RunFile:
    """``.regionguard/terraform-<pid>-<n>.json``: a terraform command regionguard runs here.

    Written before Terraform starts and removed after it exited, beside the
    files Terraform writes its output to.
    """

    path: Path

    @property
    def stdout(self) -> Path:
        return self.path.with_suffix(".stdout")

    @property
    def stderr(self) -> Path:
        return self.path.with_suffix(".stderr")

    @property
    def pid_file(self) -> Path:
        """The pid of the process that runs Terraform (the guard), written by it before exec."""
        return self.path.with_suffix(".pid")

    def terraform_pid(self, data: Mapping[str, Any]) -> int | None:
        """The pid that runs Terraform: from the run file, else from the pid file, else None.

        It is the guard's (``regionguard.terraform_guard``): Terraform is its
        child, in its session, and a SIGINT to it reaches Terraform once.
        """
        recorded: int | None = data["terraform_pid"]
        if recorded is None:
            with contextlib.suppress(OSError, ValueError):
                recorded = int(self.pid_file.read_text())
        return recorded

    @classmethod
    def create(cls, working_dir: Path, command: str, cmd: tuple[str, ...]) -> _RunFile:
        folder = working_dir / RUN_DIR
        folder.mkdir(exist_ok=True)
        pid = os.getpid()
        run = cls(folder / f"terraform-{pid}-{next(_run_numbers)}.json")
        started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        run._write(
            {
                "working_dir": str(working_dir.resolve()),
                "command": command,
                "argv": list(cmd),
                "started": started.isoformat().replace("+00:00", "Z"),
                "regionguard_pid": pid,
                "regionguard_start": _started_at(pid),
                "terraform_pid": None,
                "terraform_start": None,
            }
        )
        return run

    def _write(self, data: Mapping[str, Any]) -> None:
        write_atomic(self.path, json.dumps(data, indent=2) + "\n")

    def read(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data

    def started(self, terraform_pid: int) -> None:
        data = self.read()
        data["terraform_pid"] = terraform_pid
        data["terraform_start"] = _started_at(terraform_pid)
        self._write(data)

    def read_stdout(self) -> str:
        return self.stdout.read_text(encoding="utf-8", errors="replace")

    def read_stderr(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def remove(self, *, keep_output: bool) -> None:
        if not keep_output:
            self.stdout.unlink(missing_ok=True)
            self.stderr.unlink(missing_ok=True)
        self.pid_file.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


def _check_earlier_runs(working_dir: Path) -> None:
    """Refuse to start while an earlier Terraform runs here; warn about one that did not finish.

    Runs of this process (another thread) are its own business; a run file
    copied with its folder describes a Terraform in the original folder.
    """
    folder = working_dir / RUN_DIR
    if not folder.is_dir():
        return
    here = str(working_dir.resolve())
    me = os.getpid()
    my_start = _started_at(me)
    for path in sorted(folder.glob("terraform-*.json")):
        run = _RunFile(path)
        try:
            data = run.read()
            owner, owner_start = data["regionguard_pid"], data["regionguard_start"]
            pid, start = run.terraform_pid(data), data["terraform_start"]
            command, started = data["command"], data["started"]
            where = data["working_dir"]
        except FileNotFoundError:
            continue  # it just finished
        except (OSError, ValueError, KeyError, TypeError):
            _say(f"warning: {path} is not a run file regionguard wrote; removed it")
            run.remove(keep_output=True)
            continue
        if where != here or (owner == me and owner_start == my_start):
            continue
        owner_runs = _runs(owner, owner_start)
        if _runs(pid, start):
            raise InputError(
                f"terraform {command} started by regionguard at {started} still runs in "
                f"{working_dir} (pid {pid}); a second terraform command there would wait for "
                f"its state lock or disturb it. Wait until it ends, or stop it cleanly with "
                f"`kill -INT {pid}` (Terraform then releases its lock), and run this again"
            )
        if pid is None and owner_runs:
            raise InputError(
                f"regionguard (pid {owner}) is starting terraform {command} in {working_dir} "
                f"(since {started}). Wait until it ends, or stop it with `kill -INT {owner}`, "
                "and run this again"
            )
        if owner_runs:
            continue  # Terraform has exited; its regionguard is removing this file
        lock = (
            ' Its state lock may still be held: if Terraform says so ("Error acquiring the '
            f'state lock"), run `terraform force-unlock LOCK_ID` in {working_dir} once no '
            "other terraform command runs there."
            if command in _LOCKING_COMMANDS
            else ""
        )
        what = "did not finish" if pid is not None else "may have started and did not finish"
        _say(
            f"warning: terraform {command} started at {started} in {working_dir} "
            f"(pid {pid if pid is not None else 'unknown'}) {what} under regionguard "
            f"(regionguard, pid {owner}, was killed).{lock} Its output: {run.stdout} and "
            f"{run.stderr}"
        )
        run.remove(keep_output=True)
