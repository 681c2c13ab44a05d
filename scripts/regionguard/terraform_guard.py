"""Runs one terraform command for ``regionguard.terraform`` and hands it its interrupts, once each.

Usage (by ``regionguard.terraform`` only): ``python -I -S terraform_guard.py TERRAFORM ARG...``.
Standard library only, run as a script: it starts and ends in about 40 ms and
imports nothing of regionguard.

Why a process between regionguard and Terraform: Linux sends the
parent-death signal (``prctl(PR_SET_PDEATHSIG)``) each time the *thread*
that is a process's parent ends and the process is handed to another thread
of the same program (kernel/exit.c, ``forget_original_parent``). regionguard
has more than one thread (a stage's heartbeat), so when it is killed,
Terraform could get SIGINT once per thread that ends after the one that
started it: a second SIGINT is Terraform's "Two interrupts received.
Exiting immediately", which can cut its last write of the state file short
(it truncates the file, then writes it) and leave the file empty. This
process has one thread, so it gets its parent-death signal (SIGUSR1) at
least once and Terraform gets SIGINT from it exactly once.

What it does:

- SIGINT and SIGTERM it receives (regionguard passes interrupts to it, not
  to Terraform) go on to Terraform as they came, one for one.
- SIGUSR1 (regionguard died; it may come several times) sends SIGINT to
  Terraform unless an interrupt was already passed on: Terraform is then
  stopping already.
- A signal before Terraform was started means it is never started.
- Terraform's own parent-death signal is SIGINT: this process has one
  thread, so if it is killed on its own Terraform is interrupted once.
- It exits as Terraform exited: with its code, or by the same signal.

regionguard blocks SIGINT, SIGTERM and SIGUSR1 before exec, so a signal
that arrives while Python starts waits for the handlers below.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable

PASSED_ON = (signal.SIGINT, signal.SIGTERM)
PARENT_DIED = signal.SIGUSR1
WATCHED = (*PASSED_ON, PARENT_DIED)
# prctl(2): the signal a process gets when the thread that forked it ends.
PR_SET_PDEATHSIG = 1
# How often the wait for Terraform looks at the signals noted meanwhile.
POLL_SECONDS = 0.05


@functools.cache
def libc_prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux (looked up before any fork), else None."""
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def _terraform_setup(guard: int) -> Callable[[], None] | None:
    """What Terraform's process does between fork and exec (Linux: its parent-death signal)."""
    prctl = libc_prctl()
    if prctl is None:
        return None

    def setup() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGINT), 0, 0, 0)
        if os.getppid() != guard:
            os._exit(130)  # this process died before the line above took effect

    return setup


def _exit_as(returncode: int) -> int:
    """End this process as Terraform ended: by the same signal, else with the same code."""
    if returncode < 0:
        signum = -returncode
        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return 128 + signum
    return returncode


def main(argv: list[str]) -> int:
    noted: list[int] = []

    def note(signum: int, frame: object) -> None:
        noted.append(signum)

    for watched in WATCHED:
        signal.signal(watched, note)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)
    if noted:
        # Interrupted (or orphaned) before Terraform started: start nothing.
        first = noted[0]
        return _exit_as(-first if first in PASSED_ON else -signal.SIGINT)
    setup = _terraform_setup(os.getpid())
    try:
        terraform = subprocess.Popen(argv, preexec_fn=setup)  # one thread: preexec_fn is safe
    except OSError as exc:
        print(f"terraform: {exc}", file=sys.stderr, flush=True)
        return 127
    passed_on = 0
    while True:
        while noted:
            signum = noted.pop(0)
            if signum == PARENT_DIED:
                if passed_on:
                    continue
                signum = int(signal.SIGINT)
            if terraform.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(terraform.pid, signum)
            passed_on += 1
        try:
            return _exit_as(terraform.wait(timeout=POLL_SECONDS))
        except subprocess.TimeoutExpired:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
