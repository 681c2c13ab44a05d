"""The commands messages suggest run where they are pasted (``repo.program``, ``repo.command``).

A message that says "run `regionguard tfvars …`" is a fix only if that
command runs: from the Makefile regionguard is ``.venv/bin/regionguard``,
which is not on PATH, so messages name the program as this process was run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_local_env
from regionguard.repo import command, program


def test_the_program_run_by_a_path_below_the_working_directory_is_named_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/nonexistent")
    script = tmp_path / ".venv" / "bin" / "regionguard"
    assert program(str(script)) == ".venv/bin/regionguard"
    assert program(".venv/bin/regionguard") == ".venv/bin/regionguard"
    script.parent.mkdir(parents=True)
    monkeypatch.chdir(script.parent)
    assert program(str(script)) == "./regionguard"


def test_a_program_outside_the_working_directory_is_named_by_its_whole_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("PATH", "/nonexistent")
    script = tmp_path / "venv" / "bin" / "regionguard"
    assert program(str(script)) == str(script)


def test_the_program_found_on_path_by_its_name_is_plain_regionguard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "regionguard"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.chdir(tmp_path)
    assert program(str(script)) == "regionguard"
    assert program("bin/regionguard") == "regionguard"
    # Another regionguard on PATH is not this one: the path it was run by.
    other = tmp_path / "other" / "regionguard"
    assert program(str(other)) == "other/regionguard"


@pytest.mark.parametrize(
    "argv0",
    ["regionguard", "/usr/lib/python3/site-packages/regionguard/__main__.py", "pytest", ""],
)
def test_run_any_other_way_the_program_is_plain_regionguard(argv0: str) -> None:
    assert program(argv0) == "regionguard"


def test_command_is_the_program_and_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["pytest"])
    assert command("sandbox up") == "regionguard sandbox up"


def test_the_console_script_names_itself_in_the_fix_it_prints(tmp_path: Path) -> None:
    """The installed ``regionguard``, run by its path, prints a fix that runs as pasted."""
    script = Path(sys.executable).parent / "regionguard"
    if not script.is_file():
        pytest.skip(f"{script}: no console script beside this Python (not installed with pip)")
    env_dir = copy_local_env(tmp_path)
    (env_dir / "accounts.auto.tfvars.json").write_text('{"bedrock_permitted_account_ids": []}\n')
    environ = {k: v for k, v in os.environ.items() if k != "REGIONGUARD_ROOT"}
    environ["PATH"] = "/usr/bin:/bin"  # the console script's folder is not on it
    result = subprocess.run(
        [str(script), "tfvars", "--env-dir", str(env_dir), "--check"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    fix = (
        f"run `make tfvars ENV=local` (or `{script} tfvars --env-dir envs/local`) and commit it: "
        "Terraform deploys the committed file"
    )
    assert fix in result.stderr, result.stderr
