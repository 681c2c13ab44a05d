"""The rule catalogue: every id the project reports is in it once, and the docs' tables are its.

- each rule is well formed, and its page lists it;
- the rule tables of the docs and the skip list of ``.checkov.yaml`` are what
  ``make docs`` writes from the catalogue (a stale one fails here);
- every id the code can report comes from the catalogue: no rule-id literal
  anywhere else in the package or the checks, the modules' constants are
  catalogue ids, and running validate and the gate over the fixture corpus
  reports only catalogue ids, each at one of its levels.
"""

from __future__ import annotations

import ast
import datetime
import importlib.util
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import plan_fixtures
from regionguard import catalogue, pipeline, review
from regionguard.catalogue import RULES, SKIPPED_CHECKS, TOOLS, render_tables
from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.findings import Finding
from regionguard.planfile import load_plan
from regionguard.review import review_plan
from regionguard.validation import validate_env

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
RULE_ID = re.compile(r"^(RG-[A-Z]+(-[A-Z][A-Z0-9]*)*|CKV_RG_\d+)$")
TODAY = datetime.date(2026, 11, 27)


def test_every_rule_is_well_formed_and_listed_once() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert not set(ids) & {c.id for c in SKIPPED_CHECKS}
    for rule in RULES:
        assert RULE_ID.match(rule.id), rule.id
        assert rule.levels and set(rule.levels) <= {"note", "warning", "error"}, rule.id
        order = ["note", "warning", "error"]
        assert list(rule.levels) == sorted(rule.levels, key=order.index), rule.id
        assert rule.tools and set(rule.tools) <= set(TOOLS), rule.id
        assert rule.title.strip() and "\n" not in rule.title, rule.id
        assert (REPO / rule.doc).is_file(), rule.id
    # Every rule the catalogue defines is in RULES, and by_id finds each.
    constants = [v for v in vars(catalogue).values() if isinstance(v, catalogue.Rule)]
    assert sorted(r.id for r in constants) == sorted(ids)
    assert all(catalogue.by_id(i) is r for i, r in zip(ids, RULES, strict=True))
    assert catalogue.by_id("CKV_AWS_1") is None


def test_each_rule_is_in_a_generated_table_of_its_page() -> None:
    for rule in RULES:
        tables = "\n".join(_tables((REPO / rule.doc).read_text()))
        assert f"| `{rule.id}` |" in tables, f"{rule.id} is in no rule table of {rule.doc}"


def _tables(text: str) -> list[str]:
    return re.findall(r"<!-- rule table: [a-z-]+ -->\n(.*?)<!-- end rule table -->", text, re.S)


@pytest.mark.parametrize("document", catalogue.DOCUMENTS)
def test_the_rule_tables_are_the_catalogue(document: str) -> None:
    text = (REPO / document).read_text()
    assert re.search(r"(<!--|#) rule table: ", text), f"{document} holds no rule table"
    assert render_tables(text) == text, f"{document} is stale: run `make docs`"


def test_a_stale_or_hand_edited_table_is_rewritten() -> None:
    page = "# Page\n\n<!-- rule table: gate -->\n| hand | made |\n<!-- end rule table -->\nafter\n"
    written = render_tables(page)
    assert written != page and written.endswith("<!-- end rule table -->\nafter\n")
    assert "| `RG-PLAN-DESTROY` | error | gate |" in written
    assert "hand" not in written
    assert render_tables(written) == written
    with pytest.raises(ValueError, match="no line"):
        render_tables("<!-- rule table: gate -->\n| a |\n")
    with pytest.raises(ValueError, match="no rule table named"):
        render_tables("<!-- rule table: nothing -->\n<!-- end rule table -->\n")


def test_make_docs_writes_stale_tables_and_check_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    makefile = (REPO / "Makefile").read_text()
    assert re.search(
        r"^docs: .*\n(\t.*\n)*\t\$\(BIN\)/python tools/rule_tables\.py$", makefile, re.M
    )
    spec = importlib.util.spec_from_file_location("rule_tables", REPO / "tools/rule_tables.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for name in catalogue.DOCUMENTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, tmp_path / name)
    monkeypatch.setattr(tool, "REPO", tmp_path)
    assert tool.main(["--check"]) == 0
    page = tmp_path / "docs/plan-gate.md"
    fresh = page.read_text()
    page.write_text(fresh.replace("| `RG-PLAN-DESTROY` |", "| `RG-PLAN-DESTROYED` |"))
    assert tool.main(["--check"]) == 1
    assert "stale rule tables in docs/plan-gate.md: run `make docs`" in capsys.readouterr().err
    assert tool.main([]) == 0
    assert page.read_text() == fresh


def test_checkov_yaml_skips_exactly_the_catalogue_s_skipped_checks() -> None:
    text = (REPO / ".checkov.yaml").read_text()
    skipped = re.findall(r"^  - (\S+)$", text, re.M)
    assert skipped == [c.id for c in SKIPPED_CHECKS]


# ---------------------------------------------------------------- ids in code


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and RULE_ID.match(node.value)
    ]


def test_no_rule_id_is_written_in_code_but_the_catalogue() -> None:
    files = [
        *sorted((REPO / "scripts" / "regionguard").rglob("*.py")),
        *sorted((REPO / "policies" / "checkov").glob("*.py")),
    ]
    found = [
        f"{p.relative_to(REPO)}:{line}: {value}"
        for p in files
        if p.name != "catalogue.py"
        for line, value in _literals(p)
    ]
    assert found == []


def test_the_modules_rule_constants_are_catalogue_ids() -> None:
    constants = {
        f"{module.__name__}.{name}{f'[{key!r}]' if key else ''}": value
        for module in (review, pipeline)
        for name, constant in vars(module).items()
        if name.startswith("RULE_")
        for key, value in (constant.items() if isinstance(constant, dict) else [("", constant)])
    }
    assert sorted(constants.values()) == [
        "RG-FACT-BROKEN",
        "RG-PIPELINE-STOPPED",
        "RG-PLAN-ACTION",
        "RG-PLAN-DESTROY",
        "RG-PLAN-ERRORED",
        "RG-PLAN-GUARD-NARROWED",
        "RG-PLAN-UNKNOWN",
        "RG-PROOF-P1",
        "RG-PROOF-P2",
        "RG-PROOF-P3",
        "RG-PROOF-P4",
        "RG-TFVARS-EXPIRED-PERMIT",
    ]
    unknown = {k: v for k, v in constants.items() if catalogue.by_id(v) is None}
    assert unknown == {}


def _today(case: Path) -> datetime.date:
    """The day a fixture case is judged on (its ``--today``), else TODAY."""
    argv = json.loads(case.read_text())["argv"] if case.is_file() else []
    given = argv[argv.index("--today") + 1] if "--today" in argv else None
    return datetime.date.fromisoformat(given) if given else TODAY


def _validate_corpus(scratch: Path) -> list[Finding]:
    """validate over every fixture case and environment; a registry case gets local's settings."""
    findings: list[Finding] = []
    folders = sorted({p.parent for p in FIXTURES.glob("*/*/*/case.json")})
    folders += sorted(p for p in (REPO / "envs").iterdir() if (p / "backend.tf").is_file())
    for index, folder in enumerate(folders):
        today = _today(folder / "case.json")
        if (folder / "case.json").is_file():  # the case's inputs alone, as test_fixtures runs it
            copy = scratch / str(index)
            shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("case.json", "expected.*"))
            if not (copy / "terraform.tfvars").is_file():
                shutil.copyfile(REPO / "envs/local/terraform.tfvars", copy / "terraform.tfvars")
            folder = copy
        try:
            findings += validate_env(Environment(folder, today))
        except InputError:
            continue
    return findings


def _gate_corpus(scratch: Path) -> list[Finding]:
    findings: list[Finding] = []
    for folder in plan_fixtures():
        try:
            plan = load_plan(folder / "plan.json")
        except InputError:
            continue
        for allow_destroy in (False, True):
            result = review_plan(plan, allow_destroy=allow_destroy)
            findings += [*result.reasons, *result.warnings]
    return findings


@pytest.mark.parametrize(
    ("tool", "corpus", "at_least"),
    [(catalogue.VALIDATE, _validate_corpus, 13), (catalogue.GATE, _gate_corpus, 8)],
)
def test_the_corpus_reports_only_catalogue_rules_at_their_levels(
    tool: str, corpus: Callable[[Path], list[Finding]], at_least: int, tmp_path: Path
) -> None:
    findings = corpus(tmp_path)
    wrong = sorted(
        {
            f"{f.rule_id} ({f.level})"
            for f in findings
            if (rule := catalogue.by_id(f.rule_id)) is None
            or f.level not in rule.levels
            or tool not in rule.tools
        }
    )
    assert wrong == []
    # The corpus reaches a good part of the rules, so the check above means something.
    assert len({f.rule_id for f in findings}) >= at_least
