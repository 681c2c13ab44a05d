"""`make rehearse ENV=staging` on a fresh copy of the repository: docs/adopt.md's migration.

The copy holds the Makefile, modules/ and envs/ (_shared, local, staging),
driven with make and this checkout's virtual environments. The rehearsal runs
against its own sandbox on a free port; the test checks every line it prints,
that envs/staging is left as it was, and that the sandbox is gone afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import UNTRACKED
from regionguard.sandbox import process

pytestmark = [pytest.mark.terraform, pytest.mark.sandbox, pytest.mark.checkov, pytest.mark.slow]

VENV = Path(sys.executable).parent.parent
CHECKOV_VENV = Path(__file__).resolve().parent.parent / ".venv-checkov"

# What `make rehearse ENV=staging` prints, whole; docs/adopt.md shows it too.
EXPECTED = Path(__file__).parent / "fixtures" / "rehearse" / "staging.out"


def _files(folder: Path) -> dict[str, bytes | str]:
    return {
        p.name: (os.readlink(p) if p.is_symlink() else p.read_bytes())
        for p in sorted(folder.iterdir())
    }


def test_make_rehearse_staging_runs_the_migration_of_adopt_md(
    tmp_path: Path, repo_root: Path
) -> None:
    shutil.copy2(repo_root / "Makefile", tmp_path / "Makefile")
    shutil.copy2(repo_root / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(repo_root / "modules", tmp_path / "modules", ignore=UNTRACKED)
    for name in ("_shared", "local", "staging"):
        shutil.copytree(
            repo_root / "envs" / name, tmp_path / "envs" / name, symlinks=True, ignore=UNTRACKED
        )
    (tmp_path / "envs" / "staging" / "backend.hcl").unlink(missing_ok=True)
    staging = _files(tmp_path / "envs" / "staging")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    env.pop("REGIONGUARD_TF_MIRROR", None)  # keep the caller's TF_CLI_CONFIG_FILE
    try:
        result = subprocess.run(
            [
                "make",
                "-C",
                str(tmp_path),
                "--no-print-directory",
                "rehearse",
                "ENV=staging",
                f"VENV={VENV}",
                f"CHECKOV_VENV={CHECKOV_VENV}",
                "-o",
                f"{VENV}/bin/.installed-sandbox",
                "-o",
                f"{CHECKOV_VENV}/.installed",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        process.down(tmp_path / ".rehearse" / "staging" / ".sandbox")
    log = tmp_path / ".rehearse" / "staging.log"
    assert result.returncode == 0, (
        result.stdout + result.stderr + (log.read_text()[-4000:] if log.is_file() else "")
    )
    assert (result.stdout, result.stderr) == (EXPECTED.read_text(), "")
    assert _files(tmp_path / "envs" / "staging") == staging
    assert process.status(tmp_path / ".rehearse" / "staging" / ".sandbox") is None
    text = log.read_text()
    # The facts that wait for step 4 name the landing-zone Region deny's statement.
    assert text.count('Denied by statement "GRREGIONDENY"') >= 4
