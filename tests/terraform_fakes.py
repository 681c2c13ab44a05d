"""A fake terraform and a driver that runs it through ``regionguard.terraform``, for signal tests.

Every wait here is for an event (a file, a line in a file, a process gone),
polled until a deadline that holds on a loaded two-core machine; the tests
send their signals at whatever moment, and assert only what the product
guarantees at any moment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# A deadline for an event that takes milliseconds on an idle machine.
DEADLINE_SECONDS = 60.0

# A terraform that, like the real one, stops cleanly on SIGINT (it would
# release its state lock) and says so on stdout, then once per SIGINT in
# $MARKER (after stdout: a Terraform writing to a pipe whose reader died would
# die on that line). It writes its pid to $MARKER.started once its trap is
# set. With $HOLD set it stays after an interrupt until $MARKER.release
# exists, as Terraform stays until the operations in flight have ended.
FAKE_TERRAFORM = """#!/bin/sh
interrupted=0
trap 'echo "Interrupt received."; echo interrupted >> "$MARKER"; interrupted=1' INT
echo $$ > "$MARKER.tmp" && mv "$MARKER.tmp" "$MARKER.started"
while [ $interrupted = 0 ] || { [ -n "$HOLD" ] && [ ! -e "$MARKER.release" ]; }; do
  sleep 0.05
done
exit 130
"""

# A terraform that exits at once.
QUICK_TERRAFORM = """#!/bin/sh
echo "quick terraform $*"
"""

# regionguard's side: Terraform.run of the fake under terminate_as_interrupt,
# as `regionguard apply` runs it. argv: working dir, fake, SIGINT handling.
DRIVER = """
import signal
import sys
from pathlib import Path

from regionguard.terraform import Terraform, TerraformInterrupted, terminate_as_interrupt

if sys.argv[3] == "sigint-ignored":
    # A background job of a non-interactive shell starts with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
else:
    # As at a terminal, whatever the test run inherited (a test run started
    # in the background of a non-interactive shell has SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
with terminate_as_interrupt():
    try:
        # Inside the try: the test signals as soon as it reads this line.
        print("starting terraform", flush=True)
        Terraform(Path(sys.argv[1]), binary=sys.argv[2], timeout=300).run("apply")
    except TerraformInterrupted as exc:
        code = None if exc.result is None else exc.result.returncode
        print(f"interrupted; terraform exit {code}", flush=True)
        sys.exit(130)
    except KeyboardInterrupt:
        # Before Terraform.run took over the signals: nothing was started.
        print("interrupted; terraform exit None", flush=True)
        sys.exit(130)
print("terraform finished", flush=True)
"""


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {DEADLINE_SECONDS:g} s"
        time.sleep(0.02)


def runs(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        # Gone before the open, or between the open and the read (ESRCH).
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def parent_of(pid: int) -> int:
    """The parent of running process ``pid``."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def write_script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


class Driver:
    """The driver running the fake terraform in ``folder``, its output in files."""

    def __init__(self, folder: Path, *, sigint: str = "default", hold: bool = False) -> None:
        self.folder = folder
        self.fake = write_script(folder / "terraform", FAKE_TERRAFORM)
        self.marker = folder / "marker"
        self.out = folder / "driver.out"
        self.err = folder / "driver.err"
        env = {**os.environ, "MARKER": str(self.marker)}
        env.pop("HOLD", None)
        if hold:
            env["HOLD"] = "1"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", DRIVER, str(folder), str(self.fake), sigint],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    @property
    def started(self) -> Path:
        return Path(f"{self.marker}.started")

    def fake_pid(self) -> int:
        return int(self.started.read_text())

    def guard_pid(self) -> int:
        """The process regionguard started for the command: the fake's parent (the guard)."""
        return parent_of(self.fake_pid())

    def interrupts(self) -> int:
        """How many SIGINTs the fake terraform has handled."""
        return self.marker.read_text().count("interrupted\n") if self.marker.exists() else 0

    def fake_processes(self) -> list[int]:
        """The processes running the fake terraform, whoever started them."""
        found = []
        needle = str(self.fake).encode()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if needle in Path(f"/proc/{entry}/cmdline").read_bytes() and runs(int(entry)):
                        found.append(int(entry))
        return found

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    def wait_started(self) -> int:
        wait_for(self.started.exists, "the fake terraform starts")
        return self.fake_pid()

    def wait_stdout(self, text: str) -> None:
        wait_for(lambda: text in self.stdout(), f"the driver says {text!r}")

    def wait_stderr(self, text: str) -> None:
        wait_for(lambda: text in self.stderr(), f"the driver says {text!r}")

    def release(self) -> None:
        Path(f"{self.marker}.release").touch()

    def exit_code(self) -> int:
        """Wait for the driver to exit; its exit code."""
        try:
            return self.proc.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"the driver did not exit within {DEADLINE_SECONDS:g} s; "
                f"stdout {self.stdout()!r}, stderr {self.stderr()!r}"
            ) from None

    def stop(self) -> None:
        """Leave nothing running: the driver, and the fake if it outlived it."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.started.exists():
            return
        pid = self.fake_pid()
        self.release()
        with contextlib.suppress(OSError):
            if runs(pid) and str(self.fake).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                # The guard leads the fake's process group.
                os.killpg(os.getpgid(pid), signal.SIGKILL)
