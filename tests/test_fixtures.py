"""The fixture corpus: good and bad registries and settings, run through `main([...])`.

Each case is a folder ``tests/fixtures/<kind>/<good|bad>/<scenario>/`` holding
the environment's input files and ``case.json``: the arguments, the exact
exit code, stdout and stderr. The case runs in a copy of its folder (the
working directory, so messages name files as the user sees them). A case
that does not exit 0, and every ``--check`` case, must leave every file
untouched; a case with ``expected.auto.tfvars.json`` must leave exactly those
bytes in ``accounts.auto.tfvars.json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from regionguard.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.parent for p in FIXTURES.glob("*/*/*/case.json"))
META = {"case.json", "expected.auto.tfvars.json"}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("case_dir", CASES, ids=[str(c.relative_to(FIXTURES)) for c in CASES])
def test_fixture_case(
    case_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = json.loads((case_dir / "case.json").read_text())
    work = tmp_path / "env"
    shutil.copytree(case_dir, work, ignore=shutil.ignore_patterns(*META))
    before = snapshot(work)
    monkeypatch.chdir(work)

    code = main(case["argv"])
    out, err = capsys.readouterr()

    assert (code, out.splitlines(), err.splitlines()) == (
        case["exit"],
        case["stdout"],
        case["stderr"],
    )
    after = snapshot(work)
    expected_file = case_dir / "expected.auto.tfvars.json"
    if expected_file.exists():
        expected = {**before, "accounts.auto.tfvars.json": expected_file.read_bytes()}
        assert after == expected
    else:
        assert after == before


def test_corpus_has_good_and_bad_cases_of_each_kind() -> None:
    groups = {(c.parent.parent.name, c.parent.name) for c in CASES}
    assert groups == {
        ("registry", "good"),
        ("registry", "bad"),
        ("settings", "good"),
        ("settings", "bad"),
    }
    assert all(
        json.loads((c / "case.json").read_text())["exit"] == 0
        for c in CASES
        if c.parent.name == "good"
    )
    assert all(
        json.loads((c / "case.json").read_text())["exit"] != 0
        for c in CASES
        if c.parent.name == "bad"
    )
