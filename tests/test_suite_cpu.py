"""REGIONGUARD_TEST_CPU: one line per test of where its CPU went, and the table by file."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CPU_LOG, REPO_ROOT


def _suite_cpu() -> object:
    spec = importlib.util.spec_from_file_location("suite_cpu", REPO_ROOT / "bench/suite_cpu.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_test_appends_its_cpu_and_the_table_sums_them_by_file(tmp_path: Path) -> None:
    log = tmp_path / "cpu.jsonl"
    target = "tests/test_words.py"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", target],
        cwd=REPO_ROOT,
        env={**os.environ, CPU_LOG: str(log), "PYTEST_ADDOPTS": ""},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = [json.loads(t) for t in log.read_text().splitlines()]
    passed = int(done.stdout.strip().splitlines()[-1].split()[0])
    assert len(lines) == passed > 0
    assert all(line["id"].startswith(target + "::") for line in lines)
    assert all(line["cpu"] >= 0 and line["wall"] >= 0 for line in lines)
    [(name, tests, cpu, wall)] = _suite_cpu().by_file(lines)  # type: ignore[attr-defined]
    assert (name, tests) == (target, passed)
    assert cpu == pytest.approx(sum(line["cpu"] for line in lines))
    assert wall == pytest.approx(sum(line["wall"] for line in lines))
