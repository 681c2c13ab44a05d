"""Where the test suite's CPU goes, by test file.

Reads the JSON lines that ``tests/conftest.py`` appends with
``REGIONGUARD_TEST_CPU`` set (one per test: id, wall and CPU seconds of the
pytest process and the processes it waited for) and prints a table by file,
the most CPU first::

    REGIONGUARD_TEST_CPU=/tmp/cpu.jsonl make pytest
    .venv/bin/python bench/suite_cpu.py /tmp/cpu.jsonl

A test's wall time overlaps other workers' tests: the CPU column is the
one that adds up.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def by_file(lines: list[dict[str, object]]) -> list[tuple[str, int, float, float]]:
    """(file, tests, CPU s, wall s) per test file, the most CPU first."""
    files: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for line in lines:
        name = str(line["id"]).split("::", 1)[0]
        entry = files[name]
        entry[0] += 1
        entry[1] += float(line["cpu"])  # type: ignore[arg-type]
        entry[2] += float(line["wall"])  # type: ignore[arg-type]
    rows = [(name, int(e[0]), e[1], e[2]) for name, e in files.items()]
    return sorted(rows, key=lambda r: (-r[2], r[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="the file REGIONGUARD_TEST_CPU named")
    parser.add_argument("--top", type=int, default=25, help="files shown (default 25)")
    args = parser.parse_args()
    lines = [json.loads(t) for t in args.log.read_text().splitlines() if t.strip()]
    rows = by_file(lines)
    total = sum(r[2] for r in rows)
    print(f"{len(lines)} tests in {len(rows)} files, {total:,.0f} s of CPU\n")
    print("| file | tests | CPU s | share | wall s |")
    print("|---|---:|---:|---:|---:|")
    for name, tests, cpu, wall in rows[: args.top]:
        print(f"| `{name}` | {tests:,} | {cpu:,.1f} | {cpu / total:.0%} | {wall:,.1f} |")
    rest = rows[args.top :]
    if rest:
        cpu = sum(r[2] for r in rest)
        tests = sum(r[1] for r in rest)
        print(f"| {len(rest)} other files | {tests:,} | {cpu:,.1f} | {cpu / total:.0%} | |")


if __name__ == "__main__":
    main()
