"""The checks in plan mode: content and parameter values arrive as JSON strings.

fixtures/plan/local.tfplan.json is `terraform show -json` of a real plan of
envs/local against an emulated organization with three first-tier OUs;
fixtures/plan/regenerate_checkov_plans.py (`make plan-fixtures`) regenerates
it and local-per-ou.tfplan.json.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from checkov_runner import CHECKS_DIR, REPO_ROOT, Report, parse_report, run_checkov

pytestmark = pytest.mark.checkov

FIXTURE = REPO_ROOT / "tests/checkov/fixtures/plan/local.tfplan.json"
SCP = 'module.bedrock_inference_scp.aws_organizations_policy.this["single"]'
CONTROLS = {
    f'module.region_deny_control.aws_controltower_control.this["{ou}"]'
    for ou in ("ou-nm0b-qyulvlt7", "ou-nm0b-zcc3ffs6", "ou-nm0b-zgane1rz")
}
SCP_CHECKS = ("CKV_RG_1", "CKV_RG_2", "CKV_RG_3", "CKV_RG_4", "CKV_RG_5", "CKV_RG_6")
CONTROL_CHECKS = ("CKV_RG_7", "CKV_RG_8", "CKV_RG_9", "CKV_RG_10")


def scan(paths: list[Path]) -> Report:
    args = ["--framework", "terraform_plan", "--external-checks-dir", str(CHECKS_DIR), "-o", "json"]
    for path in paths:
        args += ["-f", str(path)]
    _, stdout, stderr = run_checkov(args, paths[0].parent)
    assert stdout.strip(), stderr
    return parse_report(stdout)


def resources(report: Report, outcome: str, check_id: str, path: Path = FIXTURE) -> set[str]:
    table = report.passed if outcome == "passed" else report.failed
    return {resource for file, resource in table.get(check_id, set()) if Path(file) == path}


Change = Callable[[str, dict[str, Any]], None]


def planned_resources(plan: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(address, values) of every resource in resource_changes and planned_values."""
    found = [(r["address"], r["change"]["after"]) for r in plan["resource_changes"]]
    modules = [plan["planned_values"]["root_module"]]
    while modules:
        module = modules.pop()
        found += [(r["address"], r["values"]) for r in module.get("resources", [])]
        modules += module.get("child_modules", [])
    return found


def write_mutated(path: Path, change: Change, size_limit: int | None = None) -> Path:
    plan = json.loads(FIXTURE.read_text())
    for address, values in planned_resources(plan):
        change(address, values)
    if size_limit is not None:
        plan["variables"]["scp_size_limit"] = {"value": size_limit}
    path.write_text(json.dumps(plan))
    return path


def unchanged(address: str, values: dict[str, Any]) -> None:
    return None


def edit_scp(edit: Callable[[dict[str, Any]], None]) -> Change:
    def change(address: str, values: dict[str, Any]) -> None:
        if address == SCP:
            document = json.loads(values["content"])
            edit(document)
            values["content"] = json.dumps(document, separators=(",", ":"))

    return change


def edit_exemptions(actions: list[str]) -> Change:
    def change(address: str, values: dict[str, Any]) -> None:
        if address in CONTROLS:
            for parameter in values["parameters"]:
                if parameter["key"] == "ExemptedActions":
                    parameter["value"] = json.dumps(actions, separators=(",", ":"))

    return change


def exemptions_twice(actions: list[str]) -> Change:
    """ExemptedActions given a second time, before the first: which one AWS keeps is unknown."""

    def change(address: str, values: dict[str, Any]) -> None:
        if address in CONTROLS:
            extra = {"key": "ExemptedActions", "value": json.dumps(actions, separators=(",", ":"))}
            values["parameters"].insert(0, extra)

    return change


def effect_twice(address: str, values: dict[str, Any]) -> None:
    """The guard's Effect given twice, Allow first: json.loads alone would read a Deny."""
    if address == SCP:
        values["content"] = values["content"].replace(
            '"Effect":"Deny"', '"Effect":"Allow","Effect":"Deny"', 1
        )


def allow(document: dict[str, Any]) -> None:
    document["Statement"][0]["Effect"] = "Allow"


def eleven_digits(document: dict[str, Any]) -> None:
    document["Statement"][0]["Condition"]["StringNotEquals"]["aws:PrincipalAccount"] = [
        "100000000001",
        "10000000003",
    ]


def oversized(document: dict[str, Any]) -> None:
    accounts = [f"{200000000000 + i}" for i in range(700)]
    document["Statement"][0]["Condition"]["StringNotEquals"]["aws:PrincipalAccount"] = accounts


# (change, the plan's scp_size_limit variable or None, the failures expected).
PLAN_MUTATIONS: dict[str, tuple[Change, int | None, dict[str, set[str]]]] = {
    "allow_statement": (edit_scp(allow), None, {"CKV_RG_1": {SCP}, "CKV_RG_10": CONTROLS}),
    "eleven_digit_account_id": (edit_scp(eleven_digits), None, {"CKV_RG_5": {SCP}}),
    "scp_over_10240_characters": (edit_scp(oversized), None, {"CKV_RG_6": {SCP}}),
    # The plan's own scp_size_limit: its 377-character SCP fits 377, not 376.
    "scp_over_the_plan_s_size_limit": (unchanged, 376, {"CKV_RG_6": {SCP}}),
    "scp_at_the_plan_s_size_limit": (unchanged, 377, {}),
    # No setting counts above AWS's 10,240.
    "size_limit_above_aws_s": (edit_scp(oversized), 20_000, {"CKV_RG_6": {SCP}}),
    "wildcard_exemption": (
        edit_exemptions(["bedrock:*"]),
        None,
        {"CKV_RG_9": CONTROLS, "CKV_RG_10": CONTROLS},
    ),
    "unguarded_exemption": (
        edit_exemptions(["bedrock:InvokeModel", "bedrock:CreateModelInvocationJob"]),
        None,
        {"CKV_RG_10": CONTROLS},
    ),
    # Unresolved, so failed by every check that reads the SCP (the gate: RG-SCP-JSON).
    "scp_key_given_twice": (
        effect_twice,
        None,
        {**{c: {SCP} for c in SCP_CHECKS}, "CKV_RG_10": CONTROLS},
    ),
    # Unresolved, so failed by every check that reads the exemptions (the gate:
    # RG-PLAN-UNKNOWN); a reader keeping the last value would pass it.
    "exemptions_given_twice": (
        exemptions_twice(["bedrock:CreateModelInvocationJob"]),
        None,
        {"CKV_RG_8": CONTROLS, "CKV_RG_9": CONTROLS, "CKV_RG_10": CONTROLS},
    ),
}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("plans")
    paths = {"fixture": folder / "fixture.tfplan.json"}
    shutil.copy(FIXTURE, paths["fixture"])
    for name, (change, size_limit, _) in PLAN_MUTATIONS.items():
        paths[name] = write_mutated(folder / f"{name}.tfplan.json", change, size_limit)
    return paths


@pytest.fixture(scope="module")
def report(plans: dict[str, Path]) -> Report:
    return scan(list(plans.values()))


def test_the_plans_parse_without_errors(report: Report) -> None:
    assert report.parsing_errors == 0


@pytest.mark.parametrize("check_id", SCP_CHECKS)
def test_the_planned_scp_passes(report: Report, plans: dict[str, Path], check_id: str) -> None:
    assert resources(report, "passed", check_id, plans["fixture"]) == {SCP}
    assert resources(report, "failed", check_id, plans["fixture"]) == set()


@pytest.mark.parametrize("check_id", CONTROL_CHECKS)
def test_every_planned_control_passes(
    report: Report, plans: dict[str, Path], check_id: str
) -> None:
    assert resources(report, "passed", check_id, plans["fixture"]) == CONTROLS
    assert resources(report, "failed", check_id, plans["fixture"]) == set()


@pytest.mark.parametrize("mutation", sorted(PLAN_MUTATIONS))
def test_plan_mutation_fails_exactly_its_checks(
    report: Report, plans: dict[str, Path], mutation: str
) -> None:
    _, _, expected = PLAN_MUTATIONS[mutation]
    path = plans[mutation]
    failed = {c: resources(report, "failed", c, path) for c in (*SCP_CHECKS, *CONTROL_CHECKS)}
    assert {c: r for c, r in failed.items() if r} == expected


# ------------------------------------------------------------ per-OU layout

# fixtures/plan/local-per-ou.tfplan.json: the same organization planned with
# scp_layout = "per_ou", one SCP per OU (module resource per_ou).
PER_OU_FIXTURE = REPO_ROOT / "tests/checkov/fixtures/plan/local-per-ou.tfplan.json"
PER_OU_SCP = "module.bedrock_inference_scp.aws_organizations_policy.per_ou"


@pytest.fixture(scope="module")
def per_ou_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path, Path]:
    folder = tmp_path_factory.mktemp("per-ou")
    good = folder / "per-ou.tfplan.json"
    shutil.copy(PER_OU_FIXTURE, good)
    plan = json.loads(PER_OU_FIXTURE.read_text())
    for address, values in planned_resources(plan):
        if address.startswith(PER_OU_SCP) and values and "content" in values:
            document = json.loads(values["content"])
            document["Statement"][0]["Effect"] = "Allow"
            values["content"] = json.dumps(document)
    bad = folder / "per-ou-allow.tfplan.json"
    bad.write_text(json.dumps(plan))
    return scan([good, bad]), good, bad


def test_per_ou_scps_are_checked_in_plan_mode(
    per_ou_report: tuple[Report, Path, Path],
) -> None:
    report, good, bad = per_ou_report
    per_ou = {r for r in resources(report, "passed", "CKV_RG_1", good) if r.startswith(PER_OU_SCP)}
    assert len(per_ou) == 3, per_ou
    for check_id in SCP_CHECKS:
        assert not {
            r for r in resources(report, "failed", check_id, good) if r.startswith(PER_OU_SCP)
        }, check_id
    # Each control's attachment points at its own per-OU SCP, which guards.
    assert len(resources(report, "passed", "CKV_RG_10", good)) == 3
    assert len({r for r in resources(report, "failed", "CKV_RG_1", bad)}) == 3


def test_the_size_limit_is_the_plan_s_in_the_detail(report: Report) -> None:
    details = [
        d
        for (check_id, path, resource), d in report.details.items()
        if check_id == "CKV_RG_6" and path.endswith("scp_over_the_plan_s_size_limit.tfplan.json")
    ]
    assert details == [["the document is 377 characters; the limit is 376"]]
