"""``make test-stress``: the process and signal tests, many times in a row, under CPU load.

Runs pytest on the tests marked ``processes`` (``-m`` chooses others)
``STRESS_RUNS`` times (default 20; ``--runs`` too) while two busy processes
keep the cores of a small machine loaded, so that a race between two
processes that shows once in fifty runs shows here. Every run is reported;
the exit code is 1 when any run failed. No test is retried. The busy
processes are stopped at the end, and each also ends by itself once this
runner is gone (it watches its parent), however the runner ends.

docs/contributing.md says when to run it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
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
    print(f"{' '.join(command[1:])}: {runs} runs beside {args.busy} busy processes", flush=True)
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
    failed = 0
    try:
        for n in range(1, runs + 1):
            start = time.monotonic()
            done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
            lines = done.stdout.strip().splitlines() or ["(no output)"]
            took = time.monotonic() - start
            print(f"run {n}/{runs}: {lines[-1]} (exit {done.returncode}, {took:.0f} s)", flush=True)
            if done.returncode != 0:
                failed += 1
                print(done.stdout[-6000:] + done.stderr[-2000:], flush=True)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    print(f"{runs - failed} of {runs} runs passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
