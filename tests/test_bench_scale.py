"""bench/scale_bench.py runs make in a fresh clone and leaves the caller's environments alone."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "scale_bench", REPO_ROOT / "bench" / "scale_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_s_extras_are_the_makefile_s() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    [dev] = re.findall(r"^PROVIDES_dev := (.+)$", makefile, re.MULTILINE)
    assert sorted(_bench().EXTRAS) == sorted(dev.split())


def test_make_in_the_clone_never_reinstalls_the_callers_virtual_environments(
    tmp_path: Path,
) -> None:
    """The clone's files are newer than every stamp: without ``-o`` make would run pip."""
    scale_bench = _bench()
    bench = scale_bench.Bench(tmp_path, 4799)
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(bench.clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}

    def dry_run(argv: list[str]) -> str:
        result = subprocess.run(
            [argv[0], "-n", "--no-print-directory", *argv[1:]],
            cwd=bench.clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout

    argv = bench.make_argv("plan")
    assert "pip install" not in dry_run(argv)
    without = [a for i, a in enumerate(argv) if a != "-o" and (i == 0 or argv[i - 1] != "-o")]
    assert "pip install" in dry_run(without), "the check must be able to fail"
