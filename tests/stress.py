"""``make test-stress``: the process and signal tests, many times in a row, under CPU load.

Runs pytest on the tests marked ``processes`` (``-m`` chooses others)
``STRESS_RUNS`` times (default 20; ``--runs`` too) while two busy processes
keep the cores of a small machine loaded, so that a race between two
processes that shows once in fifty runs shows here. Every run is reported;
the exit code is 1 when any run failed. No test is retried. Ctrl-C or
SIGTERM stops the pytest run under way (it gets SIGINT and cleans up) and
the runs after it. The busy processes are stopped at the end, and each also
ends by itself once this runner is gone (it watches its parent), however
the runner ends.

docs/contributing.md says when to run it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# A busy process: a core's worth of work until its parent is gone.
BUSY = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"


def _runs_from_environment() -> int:
    text = os.environ.get("STRESS_RUNS", "20")
    if not text.isdigit() or int(text) < 1:
        raise SystemExit(f"STRESS_RUNS={text!r} is not a number of runs; use 1 or more, e.g. 20")
    return int(text)


def _run_pytest(command: list[str], stops: list[int]) -> tuple[int, str]:
    """One pytest run in a session of its own; each stop signal is passed on as SIGINT.

    pytest stops on SIGINT and runs the tests' cleanup, which stops the
    processes they started.
    """
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen(
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        passed_on = 0
        while True:
            while passed_on < len(stops):
                child.send_signal(signal.SIGINT)
                passed_on += 1
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                continue
        log.seek(0)
        return code, log.read()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the process and signal tests, under CPU load")
    parser.add_argument("--runs", type=int, default=None, help="runs (default: STRESS_RUNS or 20)")
    parser.add_argument("--busy", type=int, default=2, help="busy processes beside the tests")
    parser.add_argument("-m", dest="markers", default="processes", help="pytest marker expression")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    runs = args.runs if args.runs is not None else _runs_from_environment()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", args.markers]
    command += args.pytest_args
    # Ctrl-C and SIGTERM are noted and passed on to the pytest run under way.
    stops: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: stops.append(number))
    print(f"{' '.join(command[1:])}: {runs} runs beside {args.busy} busy processes", flush=True)
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
    failed = done = 0
    try:
        for n in range(1, runs + 1):
            if stops:
                break
            start = time.monotonic()
            code, output = _run_pytest(command, stops)
            last = (output.strip().splitlines() or ["(no output)"])[-1]
            took = time.monotonic() - start
            print(f"run {n}/{runs}: {last} (exit {code}, {took:.0f} s)", flush=True)
            done += 1
            if code != 0:
                failed += 1
                print(output[-8000:], flush=True)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    print(f"{done - failed} of {done} runs passed{' (stopped)' if stops else ''}", flush=True)
    return 1 if failed or stops else 0


if __name__ == "__main__":
    sys.exit(main())
