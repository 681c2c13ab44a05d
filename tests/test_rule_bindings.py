"""Where Terraform keeps its own copy of a rule, the copy decides as the Python rule does.

- The region-deny-control module refuses, at plan time, an exempted action its
  guarded actions do not cover; ``regionguard.rules`` is the rule validate and
  the plan gate apply. Both run over the same cases here (real terraform,
  mock provider).
- The shared root selects the target OUs by name or id; ``select_targets`` is
  the selector every Python command uses. It runs over the cases of
  ``envs/local/tests/targets.tftest.hcl``, which real terraform tests.
- The modules' Region-code expression is ``rules.REGION_CODE_PATTERN``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from conftest import copy_module
from regionguard import rules, settings
from regionguard.deployment import OrgUnit, select_targets
from regionguard.errors import InputError

REPO = Path(__file__).resolve().parent.parent

# (exempted, guarded): every pair the rule must decide, case by case.
CASES: list[tuple[list[str], list[str]]] = [
    (["bedrock:InvokeModel"], ["bedrock:InvokeModel"]),
    (["bedrock:invokemodel"], ["bedrock:InvokeModel"]),
    (["bedrock:InvokeModel"], ["bedrock:Invoke*"]),
    (["bedrock:InvokeModel"], ["bedrock:InvokeMode?"]),
    (["bedrock:InvokeModel"], ["bedrock:*"]),
    (["bedrock:InvokeModel"], ["*"]),
    (["bedrock:InvokeModel"], ["bedrock:InvokeModelWithResponseStream"]),
    (["bedrock:InvokeModelWithResponseStream"], ["bedrock:InvokeModel"]),
    (["bedrock:CreateModelInvocationJob"], ["bedrock:InvokeModel", "bedrock:Invoke*"]),
    (["bedrock:Invoke*"], ["bedrock:Invoke*"]),
    (["bedrock:invoke*"], ["bedrock:Invoke*"]),
    (["bedrock:Invoke*"], ["bedrock:*"]),
    (["bedrock:Invoke*"], ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]),
    (["bedrock:*"], ["bedrock:Invoke*"]),
    (["bedrock:Invoke?odel"], ["bedrock:Invoke*"]),
    (["bedrock:Invoke*"], ["bedrock:Invoke?*"]),
    (["bedrock:InvokeModel", "s3:GetObject"], ["bedrock:InvokeModel"]),
    (
        ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
    ),
]


def python_accepts(exempted: list[str], guarded: list[str]) -> bool:
    guard = {
        "Effect": "Deny",
        "Action": guarded,
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}},
    }
    document = {"Version": "2012-10-17", "Statement": [guard]}
    return not rules.unguarded_actions(exempted, [document])


def _hcl_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


@pytest.mark.terraform
def test_module_validation_and_python_rule_decide_every_case_alike(tmp_path: Path) -> None:
    module = copy_module(tmp_path, "region-deny-control")
    runs = []
    for i, (exempted, guarded) in enumerate(CASES):
        expect = (
            ""
            if python_accepts(exempted, guarded)
            else "  expect_failures = [var.exempted_actions]\n"
        )
        runs.append(
            f'run "case_{i}" {{\n  command = plan\n  variables {{\n'
            f"    exempted_actions = {_hcl_list(exempted)}\n"
            f"    guarded_actions  = {_hcl_list(guarded)}\n  }}\n{expect}}}\n"
        )
    (module / "tests" / "binding.tftest.hcl").write_text(
        'mock_provider "aws" {}\n\nvariables {\n'
        '  home_region     = "us-east-1"\n'
        '  allowed_regions = ["us-east-1"]\n'
        '  targets = { "ou-ab12-workload1" = '
        '"arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-workload1" }\n'
        '  scp_attachment_ids = { "ou-ab12-workload1" = "ou-ab12-workload1:p-mock12345" }\n'
        "}\n\n" + "\n".join(runs)
    )
    init = subprocess.run(
        ["terraform", "init", "-input=false", "-backend=false"],
        cwd=module,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert init.returncode == 0, init.stderr
    done = subprocess.run(
        ["terraform", "test", "-no-color"], cwd=module, capture_output=True, text=True, timeout=600
    )
    passed = re.findall(r'run "(case_\d+)"\.\.\. pass', done.stdout)
    assert (done.returncode, len(passed)) == (0, len(CASES)), done.stdout + done.stderr
    # Both outcomes occur, so neither side can agree by accepting or refusing everything.
    verdicts = {python_accepts(e, g) for e, g in CASES}
    assert verdicts == {True, False}


# ---------------------------------------------------------------- target selection


def _tftest() -> dict[str, Any]:
    with (REPO / "envs" / "local" / "tests" / "targets.tftest.hcl").open() as handle:
        data: dict[str, Any] = hcl2.load(
            handle,
            serialization_options=hcl2.SerializationOptions(
                strip_string_quotes=True, explicit_blocks=False, with_comments=False
            ),
        )
    return data


def _mocked_ous(data: dict[str, Any]) -> list[OrgUnit]:
    for override in data["mock_provider"][0]["aws"]["override_data"]:
        if "first_tier" in str(override["target"]):
            children = override["values"]["children"]
            return [OrgUnit(c["id"], c["name"]) for c in children]
    raise AssertionError("the tftest file mocks no first-tier OUs")


def _targets_expected(run: dict[str, Any]) -> set[str] | None:
    """The OU ids a run asserts as output.targets; None when it asserts none."""
    for block in run.get("assert", []):
        condition = str(block["condition"]).removeprefix("${")
        if re.match(r"(keys\()?output\.targets\)? ==", condition):
            return set(re.findall(r"ou-[a-z0-9]+-[a-z0-9]+", condition.split("==", 1)[1]))
    return None


def _selection_cases() -> list[tuple[str, list[str], list[str], set[str] | None, bool]]:
    data = _tftest()
    out = []
    for run in data["run"]:
        ((name, body),) = run.items()
        variables: dict[str, Any] = {}
        for block in body.get("variables", []):
            variables.update(block)
        fails = "output.targets" in str(body.get("expect_failures", ""))
        out.append(
            (
                name,
                list(variables.get("target_ou_include", [])),
                list(variables.get("target_ou_exclude", [])),
                _targets_expected(body),
                fails,
            )
        )
    return out


def test_the_tftest_cases_exercise_include_exclude_by_name_and_id_and_failures() -> None:
    cases = _selection_cases()
    selectors = [s for _, inc, exc, _, _ in cases for s in inc + exc]
    assert any(s.startswith("ou-") for s in selectors)
    assert any(not s.startswith("ou-") for s in selectors)
    assert sum(1 for *_, fails in cases if fails) >= 2
    assert sum(1 for _, _, _, expected, _ in cases if expected is not None) >= 3


@pytest.mark.parametrize("case", _selection_cases(), ids=lambda c: c[0])
def test_python_selects_the_targets_terraform_selects(
    case: tuple[str, list[str], list[str], set[str] | None, bool],
) -> None:
    _name, include, exclude, expected, fails = case
    ous = _mocked_ous(_tftest())
    selection = select_targets(ous, include, exclude)
    # Terraform's `targets` output precondition: no dead selector, at least one target.
    python_fails = bool(selection.unmatched) or not selection.targets
    assert python_fails == fails
    if expected is not None:
        assert {ou.id for ou in selection.targets} == expected


def test_an_ou_id_selector_is_refused_where_only_ou_names_are_known() -> None:
    ous = [OrgUnit(None, "Workloads"), OrgUnit(None, "Sandbox")]
    with pytest.raises(InputError, match="ou-ab12-sandbox01"):
        select_targets(ous, [], ["ou-ab12-sandbox01"])
    assert [o.name for o in select_targets(ous, [], ["Sandbox"]).targets] == ["Workloads"]


# ---------------------------------------------------------------- Region codes


@pytest.mark.parametrize(
    "path",
    ["modules/region-deny-control/variables.tf", "modules/bedrock-inference-scp/variables.tf"],
)
def test_modules_check_region_codes_with_the_rule_expression(path: str) -> None:
    text = (REPO / path).read_text()
    expressions = re.findall(r'can\(regex\("(\^\[a-z\]\{2\}[^"]*)", r\)\)', text)
    pattern = rules.REGION_CODE_PATTERN.pattern
    assert expressions and {e.replace("\\\\", "\\") for e in expressions} == {pattern}


def _validation_regex(path: str, variable: str) -> str:
    """The expression of ``can(regex("...", var.<variable>))`` in a module's variables.tf."""
    text = (REPO / path).read_text()
    [found] = re.findall(rf'can\(regex\("([^"]*)", var\.{variable}\)\)', text)
    return str(found).replace("\\\\", "\\")


def test_the_scp_name_and_control_identifier_are_checked_with_the_modules_expressions() -> None:
    name = _validation_regex("modules/bedrock-inference-scp/variables.tf", "name")
    assert name == rules.SCP_NAME_PATTERN.pattern
    # RE2's \w is ASCII; Python's is Unicode unless told.
    assert rules.SCP_NAME_PATTERN.flags & re.ASCII
    control = _validation_regex("modules/region-deny-control/variables.tf", "control_identifier")
    assert control == rules.CONTROL_IDENTIFIER_PATTERN.pattern


def test_the_reserved_tag_is_the_one_the_module_refuses_and_sets() -> None:
    text = (REPO / "modules/bedrock-inference-scp/variables.tf").read_text()
    assert f'!contains(keys(var.tags), "{settings.MANAGED_TAG}")' in text
    main = (REPO / "modules/bedrock-inference-scp/main.tf").read_text()
    assert f'tomap({{ "{settings.MANAGED_TAG}" = "true" }})' in main
