"""Claims of README.md and docs/*.md, held to the code they describe.

Each test reads one claim where the docs make it (a table, a list, a
number, a name) and compares it with what the code, the Makefile or the
Terraform says, so that the sentence cannot go stale unnoticed: the files
and Python names the docs cite exist, the tables list exactly the settings,
variables, commands, test cases, bounds and options there are, and the
numbers are the constants'. The rule tables are generated from the rule
catalogue and bound there.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import re
import subprocess
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import hcl2
import pytest
import yaml

from conftest import copy_local_env
from regionguard import environment, inputfile, planfile, review_format
from regionguard.cli import build_parser
from regionguard.expectations import verify_runs
from regionguard.inputs import as_planned, check_inputs
from regionguard.registry import load_registry
from regionguard.sandbox import settings as sandbox_settings
from regionguard.settings import SHARED_DEFAULTS, load_settings
from regionguard.validation import validate_env
from test_make_help import documented_targets, help_sections, make

REPO = Path(__file__).resolve().parent.parent
PAGES = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
HCL = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


def text(name: str) -> str:
    return (REPO / name).read_text(encoding="utf-8")


def section(page: str, heading: str) -> str:
    """The text of ``page`` under ``heading`` (a markdown heading line), up to the next one."""
    body = text(page)
    assert f"\n{heading}\n" in body, (page, heading)
    after = body.split(f"\n{heading}\n", 1)[1]
    level = heading.split(" ", 1)[0]
    return re.split(rf"\n#{{1,{len(level)}}} ", after, maxsplit=1)[0]


def table(page: str, header: str) -> list[list[str]]:
    """The rows (cells stripped) of the table of ``page`` whose header row is ``header``."""
    lines = [line.strip() for line in text(page).splitlines()]
    start = lines.index(header)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line[1:-1])
        rows.append([c.strip() for c in cells])
    assert rows, (page, header)
    return rows


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Each ``regionguard`` command's parser, by name."""
    [action] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(cast("dict[str, argparse.ArgumentParser]", action.choices))


# ---------------------------------------------------------------- names and files


def test_every_repository_path_the_docs_name_exists() -> None:
    path = re.compile(
        r"(?<![\w/.-])((?:scripts|tests|envs|modules|tools|bench|policies|iam|docs|examples"
        r"|\.github|\.ci)/[A-Za-z0-9_./-]*[A-Za-z0-9_])(?![<*{|A-Za-z0-9_])"
    )
    # What the commands write, never committed.
    written = re.compile(r"/(tfplan[.a-z]*|backend\.hcl|drift\.md|permits\.md)$")
    named = {(m.group(1), page.name) for page in PAGES for m in path.finditer(page.read_text())}
    missing = sorted(
        (p, page) for p, page in named if not written.search(p) and not (REPO / p).exists()
    )
    assert len(named) > 100
    assert missing == []


def test_every_regionguard_name_the_docs_give_resolves() -> None:
    pattern = re.compile(r"`(regionguard(?:\.[A-Za-z_]\w*)+)")
    names = {m.group(1) for page in PAGES for m in pattern.finditer(page.read_text())}
    unresolved = []
    for name in sorted(names):
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj: Any = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            break
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                unresolved.append(name)
                break
            obj = getattr(obj, attribute)
    assert len(names) > 30
    assert unresolved == []


def test_every_test_the_docs_name_exists() -> None:
    pattern = re.compile(r"(tests/[\w/]+\.py)::(\w+)")
    named = {m.groups() for page in PAGES for m in pattern.finditer(page.read_text())}
    assert named
    for file, name in named:
        assert re.search(rf"^def {name}\(", text(file), re.M), f"{file}::{name}"


# ---------------------------------------------------------------- README


def test_the_readme_settings_table_names_every_setting_of_terraform_tfvars() -> None:
    rows = table("README.md", "| setting (`terraform.tfvars`) | meaning |")
    named = {name for row in rows for name in ticked(row[0])}
    # Every shared variable but the generated one, and prod's own.
    expected = set(SHARED_DEFAULTS) | {"home_region", "allowed_regions", "management_account_id"}
    assert named == expected - {"bedrock_permitted_account_ids"}


def test_the_readme_variables_table_is_make_helps_with_its_defaults() -> None:
    rows = table("README.md", "| variable | default | meaning |")
    result = make("help")
    [variables] = [r for t, r in help_sections(result.stdout).items() if t.startswith("Var")]
    shown = dict(word.partition("=")[::2] for word, _ in variables)
    named = [name for row in rows for name in ticked(row[0])]
    assert named == list(shown)
    for row in rows:
        for name in ticked(row[0]):
            default = row[1]
            if default.startswith("unset"):
                assert shown[name] == "", name
            elif default in ("cores", "cores + 1"):  # as the Makefile counts them: nproc
                cores = subprocess.run(["nproc"], capture_output=True, text=True, check=True)
                extra = 1 if default == "cores + 1" else 0
                assert shown[name] == str(int(cores.stdout) + extra), name
            elif default != "by target":
                assert ticked(default) == [shown[name]], name


def test_every_make_target_the_readme_names_is_a_documented_target() -> None:
    rows = table("README.md", "| target | what it does |")
    named = {word.removeprefix("make ").split()[0] for row in rows for word in ticked(row[0])}
    assert len(named) > 25
    assert named <= set(documented_targets()), named - set(documented_targets())


def test_the_readme_exit_codes_name_every_command() -> None:
    paragraph = section("README.md", "## Exit codes").split("\n\n", 1)[0]
    named = ticked(paragraph.split("(", 1)[1].split(";", 1)[0])
    assert sorted(named) == sorted(subcommands())


def test_the_readme_layout_names_every_docs_page() -> None:
    layout = section("README.md", "## Layout")
    listed = re.findall(r"^  ([a-z-]+\.md) ", layout.split("\ndocs/\n", 1)[1], re.M)
    assert sorted(listed) == sorted(p.name for p in (REPO / "docs").glob("*.md"))


def test_the_requirements_are_the_version_constraints() -> None:
    for page in ("README.md", "docs/adopt.md"):
        assert "Terraform ≥ 1.11 and Python ≥ 3.11" in text(page)
    project = tomllib.loads(text("pyproject.toml"))["project"]
    assert project["requires-python"] == ">=3.11"
    for versions in sorted((REPO / "envs").glob("*/versions.tf")):
        [block] = hcl2.loads(versions.read_text(), serialization_options=HCL)["terraform"]
        assert block["required_version"] == "~> 1.11", versions


# ---------------------------------------------------------------- the hostile corpus


def test_the_door_table_names_cases_of_the_hostile_corpus() -> None:
    """Each ``kind/name`` of the test column matches a case of that kind; a path is a file."""
    rows = table("docs/plan-gate.md", "| channel | what it could do | how it is closed | test |")
    corpus = {
        path.stem: [c["name"] for c in yaml.safe_load(path.read_text(encoding="utf-8"))]
        for path in (REPO / "tests" / "fixtures" / "hostile").glob("*.yaml")
    }
    named = [t for row in rows for t in ticked(row[3]) if "/" in t]
    assert len(named) > 20
    for name in named:
        if name.startswith("tests/"):
            assert (REPO / name).is_file(), name
            continue
        kind, _, case = name.partition("/")
        assert [c for c in corpus[kind] if re.fullmatch(case.replace("*", ".*"), c)], name


def test_the_hostile_corpus_is_the_kinds_the_docs_list() -> None:
    paragraph = section("docs/registry.md", "## The hostile-input corpus")
    listed = {k for k in ticked(paragraph) if re.fullmatch(r"[a-z]+", k)} | {"make"}
    on_disk = {p.stem for p in (REPO / "tests" / "fixtures" / "hostile").glob("*.yaml")}
    assert listed == on_disk


# ---------------------------------------------------------------- options and numbers


def test_the_plan_gate_synopsis_gives_each_command_its_options() -> None:
    block = section("docs/plan-gate.md", "## Commands").split("```\n", 2)[1]
    synopsis: dict[str, set[str]] = {}
    command = ""
    for line in block.splitlines():
        if line.startswith("regionguard "):
            command = line.split()[1]
        synopsis.setdefault(command, set()).update(re.findall(r"--[a-z-]+", line))
    assert sorted(synopsis) == ["apply", "plan", "plan-diff"]
    parsers = subcommands()
    for name, options in synopsis.items():
        parser = parsers[name]
        accepted = {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
        assert options == accepted - {"--help"}, name


def test_the_input_bounds_table_is_the_readers() -> None:
    rows = table("docs/registry.md", "| file | bound | what the scale benchmarks write |")
    kinds = {
        "registry": [inputfile.REGISTRY],
        "`terraform.tfvars`, `sandbox.yaml`, generated tfvars, gate record, `backend.hcl`": [
            inputfile.SETTINGS,
            inputfile.SANDBOX_SETTINGS,
            inputfile.GENERATED_TFVARS,
            inputfile.GATE_RECORD,
            inputfile.SMALL_FILE,
        ],
        "`expectations.yaml`, `.tf` files": [inputfile.EXPECTATIONS, inputfile.TERRAFORM_CONFIG],
        "plan JSON": [inputfile.PLAN_JSON],
        "saved plan (hashed as a stream)": [inputfile.SAVED_PLAN],
        "Terraform CLI configuration": [inputfile.CLI_CONFIG],
    }
    assert [row[0] for row in rows] == list(kinds)
    for row in rows:
        number, unit = row[1].split()
        size = int(number) << {"MiB": 20, "GiB": 30}[unit]
        assert {k.limit for k in kinds[row[0]]} == {size}, row[0]


def test_the_review_limits_the_docs_give_are_the_constants() -> None:
    page = text("docs/plan-gate.md")
    for claim in (
        f"`review_format.COMMENT_LIMIT` ({review_format.COMMENT_LIMIT:,})",
        f"`review_format.SUMMARY_LIMIT` ({review_format.SUMMARY_LIMIT:,})",
        f"each list longer than {review_format.TEXT_LIST_LIMIT} items",
        f"shows its first {review_format.TEXT_LIST_LIMIT}",
        f"cut after {review_format.TEXT_MESSAGE_LIMIT} characters",
        f"nesting deeper than {planfile.MAX_DEPTH} levels",
        f"larger\nthan {inputfile.PLAN_JSON.limit >> 20} MiB",
    ):
        assert claim in page, claim


def test_the_sandbox_settings_defaults_the_docs_give_are_the_readers() -> None:
    rows = {row[0]: row[1] for row in table("docs/sandbox.md", "| key | meaning |")}
    assert (
        f'(default `"{sandbox_settings.DEFAULT_LANDING_ZONE_VERSION}"`)'
        in rows["`landing_zone.version`"]
    )
    assert (
        f"(default `{sandbox_settings.DEFAULT_SECURITY_OU}`)" in rows["`landing_zone.security_ou`"]
    )
    assert f"(default {sandbox_settings.DEFAULT_OPERATION_SECONDS})" in rows["`operation_seconds`"]


def test_each_benchmark_target_runs_the_script_the_table_names() -> None:
    rows = table("docs/benchmarks.md", "| target | script | what it measures |")
    makefile = text("Makefile")
    for row in rows:
        [target] = ticked(row[0])
        [script] = ticked(row[1])
        recipe = re.search(rf"^{target.removeprefix('make ')}:.*\n((?:\t.*\n)+)", makefile, re.M)
        assert recipe and script in recipe.group(1), target


# ---------------------------------------------------------------- decisions


def test_allow_wildcard_exemptions_is_the_one_shared_variable_terraform_does_not_use() -> None:
    shared = REPO / "envs" / "_shared"
    declared = set(re.findall(r'^variable "(\w+)"', (shared / "variables.tf").read_text(), re.M))
    used = {u for tf in shared.glob("*.tf") for u in re.findall(r"\bvar\.(\w+)", tf.read_text())}
    assert declared - used == {"allow_wildcard_exemptions"}
    assert "Only `allow_wildcard_exemptions` is read by `regionguard validate`" in text(
        "docs/decisions.md"
    )


def test_the_core_dependencies_decisions_names_are_pyprojects() -> None:
    paragraph = text("docs/decisions.md").split("`pip install .` brings what a staging or", 1)[1]
    listed = paragraph.split("runs:", 1)[1].split(". The", 1)[0]
    words = re.sub(r"\([^)]*\)", "", listed)
    named = {w.lower() for w in re.split(r",?\s+(?:and\s+)?|,", words) if w}
    core = tomllib.loads(text("pyproject.toml"))["project"]["dependencies"]
    assert named == {re.split(r"[<>=]", r)[0].lower() for r in core}


def test_the_checkov_pins_decisions_names_are_the_requirements() -> None:
    pins = dict(
        line.split("==")
        for line in text("policies/requirements.txt").splitlines()
        if "==" in line and not line.startswith("#")
    )
    paragraph = text("docs/decisions.md").split("pinned in `policies/requirements.txt`", 1)[1]
    named = dict(re.findall(r"([a-z-]+) (\d+\.\d+\.\d+)", paragraph.split(":", 1)[0]))
    assert named == pins


# ---------------------------------------------------------------- one reading


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How often an Environment parses each of its files."""
    counted: Counter[str] = Counter()

    def spy(name: str, function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(
        "regionguard.environment.load_settings", spy("terraform.tfvars", load_settings)
    )
    monkeypatch.setattr(
        "regionguard.environment.load_registry", spy("accounts.yaml", load_registry)
    )
    committed = environment.CommittedTfvars.read.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        environment.CommittedTfvars,
        "read",
        classmethod(spy("accounts.auto.tfvars.json", committed)),
    )
    yield counted


def test_the_stages_before_terraform_parse_each_file_of_the_environment_once(
    tmp_path: Path, parses: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir = copy_local_env(tmp_path)
    monkeypatch.setenv("REGIONGUARD_ROOT", str(tmp_path))
    env = environment.Environment(env_dir, datetime.date(2026, 6, 1))
    check_inputs(env)
    env, lingering = as_planned(env)
    assert lingering == ()
    assert [f for f in validate_env(env) if f.level == "error"] == []
    runs = verify_runs(env, env.expectations_path, plan=None, rendered=True)
    assert runs and all(o.holds for _scenario, outcomes in runs for o in outcomes)
    assert parses == {"terraform.tfvars": 1, "accounts.yaml": 1, "accounts.auto.tfvars.json": 1}
