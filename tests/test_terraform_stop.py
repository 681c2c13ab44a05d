"""Stopping Terraform: at any moment, once, waited for; when regionguard dies; the next command.

docs/decisions.md, "Stopping Terraform". Real processes: a driver running
``Terraform.run`` of a fake terraform (tests/terraform_fakes.py) as
``regionguard apply`` does. The signals go at any moment the test reaches;
the assertions hold whatever the moment. The test of the issue itself is
tests/test_interrupts_and_sources.py::test_an_interrupt_is_passed_on_to_terraform_and_waited_for;
killing ``make apply`` on the sandbox is tests/test_apply_killed_e2e.py.
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from regionguard.errors import InputError
from regionguard.terraform import RUN_DIR, Terraform, TerraformResult
from terraform_fakes import (
    FAKE_TERRAFORM,
    QUICK_TERRAFORM,
    Driver,
    parent_of,
    runs,
    wait_for,
    write_script,
)

pytestmark = pytest.mark.processes

needs_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's (prctl)"
)


def run_files(folder: Path) -> list[Path]:
    return sorted((folder / RUN_DIR).glob("terraform-*.json"))


def recorded_run(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The one run file in ``folder`` once it records Terraform's pid, and its content."""

    def pid_recorded() -> bool:
        return any(json.loads(p.read_text())["terraform_pid"] for p in run_files(folder))

    wait_for(pid_recorded, "regionguard records terraform's pid")
    [path] = run_files(folder)
    record: dict[str, Any] = json.loads(path.read_text())
    return path, record


# Seeded: a failure names its round, and the same moments come again.
ROUNDS = 24
MOMENTS = random.Random(25).sample(range(0, 60), ROUNDS)


def test_an_interrupt_at_any_moment_around_the_start_stops_terraform_once_and_waits(
    tmp_path: Path,
) -> None:
    outcomes: collections.Counter[str] = collections.Counter()
    for round_, millis in enumerate(MOMENTS):
        folder = tmp_path / str(round_)
        folder.mkdir()
        signum = (signal.SIGINT, signal.SIGTERM)[round_ % 2]
        driver = Driver(folder)
        try:
            driver.wait_stdout("starting terraform")
            # The moment of the signal, somewhere around Terraform's start
            # (before it, during the fork, before or after the fake's trap).
            time.sleep(millis / 1000)
            driver.proc.send_signal(signum)
            code = driver.exit_code()
            context = f"round {round_}, {signum.name} after {millis} ms: {driver.stdout()!r}"
            assert driver.fake_processes() == [], context
            lines = driver.stdout().splitlines()
            assert (code, lines[0], lines[-1][:28]) == (
                130,
                "starting terraform",
                "interrupted; terraform exit ",
            ), context
            # What the fake did tells the moment: never started, ended by
            # SIGINT's default action before its trap was set, or trapped it.
            outcome, expected = {
                "None": ("before Terraform started (it never did)", 0),
                str(-signal.SIGINT): ("between exec and the fake's trap", 0),
                "130": ("after the fake set its trap", 1),
            }[lines[-1][28:]]
            assert driver.interrupts() == expected, context
            if expected == 0:
                assert not driver.started.exists(), context
            assert list((folder / RUN_DIR).glob("terraform-*.json")) == [], context
            outcomes[outcome] += 1
        finally:
            driver.stop()
    print(dict(outcomes))


STOPPING = "waiting for it to stop cleanly and release its state lock"


@pytest.mark.parametrize(
    ("first", "second", "passed_on"),
    [
        (signal.SIGINT, signal.SIGINT, 2),
        (signal.SIGTERM, signal.SIGINT, 2),
        (signal.SIGTERM, signal.SIGTERM, 1),
        (signal.SIGINT, signal.SIGTERM, 1),
    ],
)
def test_every_sigint_is_passed_on_and_sigterm_only_as_the_first_interrupt(
    tmp_path: Path, first: signal.Signals, second: signal.Signals, passed_on: int
) -> None:
    driver = Driver(tmp_path, hold=True)
    try:
        driver.wait_started()
        guard = driver.guard_pid()
        driver.proc.send_signal(first)
        driver.wait_stderr(f"{first.name} received: interrupting")
        wait_for(lambda: driver.interrupts() == 1, "the fake terraform is interrupted")
        driver.proc.send_signal(second)
        again = (
            f"regionguard: {second.name} received again: passed on; Terraform stops at once "
            "and may not save its state"
            if passed_on == 2
            else f"regionguard: {second.name} received: terraform apply is already stopping; "
            "waiting for it"
        )
        driver.wait_stderr(again)
        wait_for(lambda: driver.interrupts() == passed_on, "the fake terraform is interrupted")
        driver.release()
        assert driver.exit_code() == 130
        [output] = sorted((tmp_path / RUN_DIR).glob("terraform-*.stdout"))
        assert driver.stderr() == (
            f"regionguard: {first.name} received: interrupting terraform apply (pid {guard}); "
            f"{STOPPING}\n"
            f"{again}\n"
            f"regionguard: terraform apply stopped after the interrupt (exit 130); its output: "
            f"{output} and {output.with_suffix('.stderr')}\n"
        )
        assert driver.interrupts() == passed_on
        assert output.read_text() == "Interrupt received.\n" * passed_on
        assert run_files(tmp_path) == []
    finally:
        driver.stop()


def test_a_background_job_that_ignores_sigint_still_passes_sigterm_on(tmp_path: Path) -> None:
    # A shell starts a background job with SIGINT ignored, and an exec keeps
    # it ignored: Terraform must not inherit that, or the interrupt passed on
    # would not reach it (a fake terraform could not even trap it).
    driver = Driver(tmp_path, sigint="sigint-ignored")
    try:
        pid = driver.wait_started()
        ignored = int(
            next(
                line.split()[1]
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("SigIgn:")
            ),
            16,
        )
        assert not ignored & (1 << (signal.SIGINT - 1))
        driver.proc.send_signal(signal.SIGTERM)
        assert (driver.exit_code(), driver.interrupts()) == (130, 1)
    finally:
        driver.stop()


@needs_linux
def test_terraform_is_interrupted_when_regionguard_is_killed(tmp_path: Path) -> None:
    driver = Driver(tmp_path)
    try:
        pid = driver.wait_started()
        run_file, _ = recorded_run(tmp_path)
        driver.proc.kill()  # SIGKILL: what an OOM kill or a CI cancel's last step does
        driver.proc.wait()
        wait_for(lambda: driver.interrupts() == 1, "the parent-death signal interrupts terraform")
        wait_for(lambda: not runs(pid), "the fake terraform exits")
        # Its output went to a file, not to a pipe that died with regionguard.
        assert run_file.with_suffix(".stdout").read_text() == "Interrupt received.\n"
        assert driver.interrupts() == 1
    finally:
        driver.stop()


# A regionguard whose thread that started the guard ends while the process
# lives on (Linux's first parent death of the guard), then is killed (its
# second). argv: the fake terraform, the pid file.
TWO_PARENT_DEATHS = """
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from regionguard.terraform import _child_setup, _guarded


def start() -> None:
    subprocess.Popen(
        _guarded((sys.argv[1], "apply")),
        preexec_fn=_child_setup(os.getpid(), Path(sys.argv[2])),
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    # This thread ends once Terraform runs (before, the guard starts nothing).
    while not Path(os.environ["MARKER"] + ".started").exists():
        time.sleep(0.01)


thread = threading.Thread(target=start)
thread.start()
thread.join()
print("the thread that started the guard has ended", flush=True)
time.sleep(600)
"""


@needs_linux
def test_terraform_is_interrupted_once_however_often_the_parent_death_signal_comes(
    tmp_path: Path,
) -> None:
    """Linux sends the parent-death signal each time the thread that is the parent ends.

    regionguard has more than one thread: killed, its Terraform's parent could
    end thread by thread (kernel/exit.c, forget_original_parent), and a
    second SIGINT is Terraform's "exit now", which can cut its last write of
    the state short. The guard passes one SIGINT on, whatever comes after.
    """
    fake_terraform = write_script(tmp_path / "terraform", FAKE_TERRAFORM)
    marker = tmp_path / "marker"
    started = Path(f"{marker}.started")

    def interrupts() -> int:
        return marker.read_text().count("interrupted\n") if marker.exists() else 0

    out = tmp_path / "parent.out"
    with out.open("wb") as stdout:
        parent = subprocess.Popen(
            [sys.executable, "-c", TWO_PARENT_DEATHS, str(fake_terraform), str(tmp_path / "pid")],
            env={**os.environ, "MARKER": str(marker), "HOLD": "1"},
            stdin=subprocess.DEVNULL,
            stdout=stdout,
        )
    fake = guard = 0
    try:
        wait_for(started.exists, "the fake terraform starts")
        fake = int(started.read_text())
        guard = parent_of(fake)
        # First: the thread that started the guard ended, the process lives.
        wait_for(lambda: interrupts() == 1, "the first parent death interrupts terraform")
        assert parent_of(guard) == parent.pid
        # Second: the process is killed; the guard is handed on once more.
        parent.kill()
        parent.wait()
        wait_for(lambda: parent_of(guard) != parent.pid, "the guard is handed to a new parent")
        # The guard looks at its signals every 50 ms; give it twenty times that.
        time.sleep(1.0)
        Path(f"{marker}.release").touch()
        wait_for(lambda: not runs(fake) and not runs(guard), "the fake and its guard exit")
        assert interrupts() == 1
        said = out.read_text()  # the parent's line and the fake's, in either order
        assert sorted(said.splitlines()) == [
            "Interrupt received.",
            "the thread that started the guard has ended",
        ], said
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        Path(f"{marker}.release").touch()
        for pid in (fake, guard):
            if pid and runs(pid):
                os.kill(pid, signal.SIGKILL)


@needs_linux
@pytest.mark.parametrize("killed", ["after it recorded the pid", "before it recorded the pid"])
def test_the_next_command_refuses_while_terraform_still_stops_then_warns_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], killed: str
) -> None:
    driver = Driver(tmp_path, hold=True)
    try:
        fake = driver.wait_started()
        # The process regionguard started and records: the guard, Terraform's parent.
        pid = driver.guard_pid()
        run_file, record = recorded_run(tmp_path)
        assert (record["command"], record["terraform_pid"], record["regionguard_pid"]) == (
            "apply",
            pid,
            driver.proc.pid,
        )
        assert run_file.with_suffix(".pid").read_text() == f"{pid}\n"
        if killed == "before it recorded the pid":
            # The run file as it is between the fork and regionguard's record
            # of the pid; Terraform's process wrote its pid file before exec.
            run_file.write_text(
                json.dumps({**record, "terraform_pid": None, "terraform_start": None})
            )
        driver.proc.kill()
        driver.proc.wait()
        # Interrupted by the parent-death signal, the fake stays until
        # released, as Terraform finishes the operations in flight.
        wait_for(lambda: driver.interrupts() == 1, "the parent-death signal interrupts terraform")
        quick = Terraform(tmp_path, binary=str(write_script(tmp_path / "quick", QUICK_TERRAFORM)))
        with pytest.raises(InputError) as refused:
            quick.run("plan")
        assert str(refused.value) == (
            f"terraform apply started by regionguard at {record['started']} still runs in "
            f"{tmp_path} (pid {pid}); a second terraform command there would wait for its state "
            f"lock or disturb it. Wait until it ends, or stop it cleanly with `kill -INT {pid}` "
            "(Terraform then releases its lock), and run this again"
        )
        assert run_files(tmp_path) == [run_file]
        assert capsys.readouterr().err == ""

        driver.release()
        wait_for(lambda: not runs(fake) and not runs(pid), "the fake terraform and its guard exit")
        assert quick.run("plan").stdout == "quick terraform plan -no-color\n"
        assert capsys.readouterr().err == (
            f"regionguard: warning: terraform apply started at {record['started']} in {tmp_path} "
            f"(pid {pid}) did not finish under regionguard (regionguard, pid {driver.proc.pid}, "
            'was killed). Its state lock may still be held: if Terraform says so ("Error '
            f'acquiring the state lock"), run `terraform force-unlock LOCK_ID` in {tmp_path} '
            "once no other terraform command runs there. Its output: "
            f"{run_file.with_suffix('.stdout')} and {run_file.with_suffix('.stderr')}\n"
        )
        assert run_file.with_suffix(".stdout").read_text() == "Interrupt received.\n"
        assert run_files(tmp_path) == []
        quick.run("plan")
        assert capsys.readouterr().err == "", "the warning is given once"
    finally:
        driver.stop()


def test_a_second_command_of_the_same_process_is_not_refused(tmp_path: Path) -> None:
    # Threads of one process are the caller's business (tests/test_sandbox_terraform.py
    # runs two applies at once to meet Terraform's own state lock).
    fake = write_script(tmp_path / "terraform", FAKE_TERRAFORM)
    quick = write_script(tmp_path / "quick", QUICK_TERRAFORM)
    started = tmp_path / "marker.started"
    env = {**os.environ, "MARKER": str(tmp_path / "marker")}
    results: list[TerraformResult] = []

    def first() -> None:
        results.append(Terraform(tmp_path, binary=str(fake), env=env).run("apply", check=False))

    thread = threading.Thread(target=first)
    thread.start()
    try:
        wait_for(started.exists, "the fake terraform starts")
        second = Terraform(tmp_path, binary=str(quick)).run("plan")
    finally:
        if started.exists():
            os.kill(int(started.read_text()), signal.SIGINT)
        thread.join()
    assert (second.stdout, [r.returncode for r in results]) == (
        "quick terraform plan -no-color\n",
        [130],
    )
    assert run_files(tmp_path) == []


def test_an_unreadable_run_file_is_removed_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / RUN_DIR).mkdir()
    broken = tmp_path / RUN_DIR / "terraform-1-1.json"
    broken.write_text("{")
    quick = write_script(tmp_path / "quick", QUICK_TERRAFORM)
    assert Terraform(tmp_path, binary=str(quick)).run("version").returncode == 0
    assert capsys.readouterr().err == (
        f"regionguard: warning: {broken} is not a run file regionguard wrote; removed it\n"
    )
    assert not broken.exists()


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_terraform_writes_its_pid_file_before_exec_from_any_working_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool
) -> None:
    # The pid file is written after the child changed to the working directory,
    # by the process regionguard started: the guard, Terraform's parent.
    script = write_script(
        tmp_path / "pid-terraform", f"#!/bin/sh\necho $PPID\ncat {RUN_DIR}/*.pid\n"
    )
    folder = tmp_path / "work"
    folder.mkdir()
    if relative:
        monkeypatch.chdir(tmp_path)
    result = Terraform(Path("work") if relative else folder, binary=str(script)).run("plan")
    own, written = result.stdout.splitlines()
    assert own == written
    assert list((folder / RUN_DIR).iterdir()) == []


@pytest.mark.parametrize("binary", ["missing-terraform", "bin/terraform", "/nowhere/terraform"])
def test_a_terraform_that_is_not_there_is_told_before_anything_starts(
    tmp_path: Path, binary: str
) -> None:
    # As subprocess.Popen says it when it starts the binary itself; the guard
    # would start, then fail to start it.
    with pytest.raises(FileNotFoundError) as missing:
        Terraform(tmp_path, binary=binary).run("version")
    assert missing.value.filename == (
        str(tmp_path / binary) if binary == "bin/terraform" else binary
    )
    assert list((tmp_path / RUN_DIR).iterdir()) == []


def test_run_files_and_output_are_gone_after_a_command_that_finished(tmp_path: Path) -> None:
    quick = write_script(tmp_path / "quick", QUICK_TERRAFORM)
    result = Terraform(tmp_path, binary=str(quick)).run("version")
    assert (result.stdout, result.stderr) == ("quick terraform version -no-color\n", "")
    assert list((tmp_path / RUN_DIR).iterdir()) == []


def test_the_run_file_records_the_command_and_both_processes(tmp_path: Path) -> None:
    driver = Driver(tmp_path)
    try:
        driver.wait_started()
        _, record = recorded_run(tmp_path)
        assert record["terraform_pid"] == driver.guard_pid()
        assert sorted(record) == [
            "argv",
            "command",
            "regionguard_pid",
            "regionguard_start",
            "started",
            "terraform_pid",
            "terraform_start",
            "working_dir",
        ]
        assert record["working_dir"] == str(tmp_path.resolve())
        assert record["argv"] == [str(driver.fake), "apply", "-no-color"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["started"])
        driver.proc.send_signal(signal.SIGINT)
        assert driver.exit_code() == 130
    finally:
        driver.stop()
