"""The bad-input corpus: every case is refused with exit 2 (or its documented finding).

Each case is a folder ``tests/fixtures/bad-inputs/<case>/`` holding the files
it changes in a copy of ``envs/local`` and ``case.json``:

- ``argv``: the command, as given to ``regionguard.cli.main``; ``{env}`` is
  the environment folder of the copy, ``{root}`` the copied repository;
- ``exit``: 2 (bad input) or 1 (a documented finding, such as a validate
  rule or a broken expectation);
- ``message``: a substring of what the command prints (stderr for exit 2,
  stdout and stderr for exit 1);
- ``remove`` (optional): files of the environment the case deletes;
- ``xfail`` (optional): why the case fails today; it must fail (strict).

A file ``NAME/.keep`` in the case makes ``NAME`` a folder. The runner copies
``envs/_shared`` and ``envs/local`` into a temporary repository
(``REGIONGUARD_ROOT`` points there), applies the case, runs the command and
asserts the exit code, the message, that no traceback was printed, and that
every file of the environment is byte for byte what it was before the run.
No case needs terraform or a running sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import plan_fixture
from regionguard.cli import main
from regionguard.sandbox import process

CORPUS = Path(__file__).parent / "fixtures" / "bad-inputs"
CASE_DIRS = sorted(p.parent for p in CORPUS.glob("*/case.json"))
KEEP = ".keep"


def load_case(case_dir: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads((case_dir / "case.json").read_text())
    return case


def params() -> list[Any]:
    out = []
    for case_dir in CASE_DIRS:
        reason = load_case(case_dir).get("xfail")
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        out.append(pytest.param(case_dir, id=case_dir.name, marks=marks))
    return out


def apply_case(case_dir: Path, case: dict[str, Any], env: Path) -> None:
    for name in case.get("remove", []):
        (env / name).unlink()
    for source in sorted(case_dir.rglob("*")):
        relative = source.relative_to(case_dir)
        if source.is_dir() or relative == Path("case.json"):
            continue
        target = env / relative
        if target.parent.is_file() or target.parent.is_symlink():
            target.parent.unlink()  # NAME/.keep: NAME becomes a folder
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.name != KEEP:
            shutil.copyfile(source, target)
        else:
            target.parent.mkdir(exist_ok=True)


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry below ``folder``: file bytes, link targets, folders."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = str(path.relative_to(folder))
            if path.is_symlink():
                out[key] = ("link", os.readlink(path))
            elif path.is_dir():
                out[key] = ("dir",)
            else:
                out[key] = ("file", path.read_bytes())
    return out


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def repo_copy(
    local_env_copier: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Path]]:
    root = tmp_path / "repo"
    env = local_env_copier(root)
    monkeypatch.setenv("REGIONGUARD_ROOT", str(root))
    monkeypatch.chdir(root)
    yield root, env
    # A `sandbox up` case that was not refused started a server: stop it.
    process.down(root / ".sandbox")


def expand(argv: list[str], root: Path, env: Path) -> list[str]:
    return [a.replace("{env}", str(env)).replace("{root}", str(root)) for a in argv]


@pytest.mark.parametrize("case_dir", params())
def test_bad_input_is_refused_and_changes_nothing(
    case_dir: Path, repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, env = repo_copy
    case = load_case(case_dir)
    apply_case(case_dir, case, env)
    before = snapshot(env)

    code, out, err = run(expand(case["argv"], root, env), capsys)

    assert "Traceback" not in out + err, err
    assert code == case["exit"], out + err
    shown = err if case["exit"] == 2 else out + err
    assert case["message"] in shown, shown
    assert snapshot(env) == before


def test_every_case_is_well_formed() -> None:
    assert len(CASE_DIRS) >= 100
    for case_dir in CASE_DIRS:
        case = load_case(case_dir)
        assert set(case) <= {"argv", "exit", "message", "remove", "xfail"}, case_dir.name
        assert case["exit"] in (1, 2), case_dir.name
        assert isinstance(case["message"], str) and len(case["message"]) >= 8, case_dir.name
        changes = [p for p in case_dir.rglob("*") if p.is_file() and p.name != "case.json"]
        assert changes or case.get("remove"), f"{case_dir.name} changes nothing"


# The commands the corpus uses, on the untouched copy: each passes, so a
# refusal in a case comes from what the case changed.
BASELINE = [
    ["tfvars", "--env", "local", "--check"],
    ["validate", "--env", "local"],
    ["render", "--env", "local"],
    ["verify", "--env", "local", "--sandbox", "skip"],
    [
        "explain",
        "--env",
        "local",
        "--account",
        "payments",
        "--action",
        "bedrock:InvokeModel",
        "--region",
        "us-east-2",
    ],
    ["plan-diff", "{root}/plan.json"],
    ["verify", "--env", "local", "--sandbox", "skip", "--plan", "{root}/plan.json"],
    ["matrix", "--env", "local", "--plan", "{root}/plan.json"],
]


@pytest.mark.parametrize("argv", BASELINE, ids=[" ".join(a[:2]) for a in BASELINE])
def test_untouched_copy_passes_each_command(
    argv: list[str],
    repo_root: Path,
    repo_copy: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, env = repo_copy
    shutil.copyfile(plan_fixture("no-change") / "plan.json", root / "plan.json")
    code, out, err = run(expand(argv, root, env), capsys)
    assert code == 0, out + err
