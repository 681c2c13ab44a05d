"""Excluding a first-tier OU by name or by id deploys the same, wherever it is computed.

One copy of the repository, one sandbox: for each way of naming the Sandbox
OU in ``target_ou_exclude``, real terraform plans envs/local; the deployment
read from that plan, the deployment ``explain`` / ``verify`` model without
``--plan``, ``explain``'s answers, and checkov's verdicts on the plan JSON
must be the same for the name and for the id.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from checkov_runner import CHECKS_DIR, parse_report, run_checkov

from regionguard import deployment as dep
from regionguard.aws import sandbox_client
from regionguard.cli import main
from regionguard.environment import Environment
from regionguard.expectations import broken_facts, verify_runs
from regionguard.local_sandbox import terraform_environment
from regionguard.orgmodel import first_tier_from_org, sandbox_facts, scenario_from_env
from regionguard.planfile import parse_plan
from regionguard.sandbox import process
from regionguard.terraform import Terraform

pytestmark = [pytest.mark.checkov, pytest.mark.sandbox, pytest.mark.terraform]

TODAY = datetime.date(2026, 11, 30)


@pytest.fixture(scope="module")
def repo(
    tmp_path_factory: pytest.TempPathFactory, local_env_copier: Callable[..., Path]
) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("repo")
    local_env_copier(root)
    info, _ = process.up(root / ".sandbox", root / "envs" / "local", port=0)
    previous = os.environ.get("REGIONGUARD_ROOT")
    os.environ["REGIONGUARD_ROOT"] = str(root)
    try:
        yield root, info.endpoint
    finally:
        process.down(root / ".sandbox")
        if previous is None:
            os.environ.pop("REGIONGUARD_ROOT", None)
        else:
            os.environ["REGIONGUARD_ROOT"] = previous


def _sandbox_ou_id(endpoint: str) -> str:
    client = sandbox_client("organizations", endpoint)
    root = client.list_roots()["Roots"][0]["Id"]
    ous = client.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    return str(next(ou["Id"] for ou in ous if ou["Name"] == "Sandbox"))


def _shape(deployment: dep.Deployment) -> dict[str, Any]:
    """What each OU carries, by OU name, and which OUs are left out."""
    return {
        "targets": {
            item.ou.name: (
                sorted(s.content for s in item.scps),
                {k: list(v) for k, v in (item.control or {}).items()},
            )
            for item in deployment.ous
        },
        "not_covered": sorted(ou.name or "" for ou, _ in deployment.not_covered),
    }


def _explain(env_dir: Path, account: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(
        [
            "explain", "--env-dir", str(env_dir), "--account", account,
            "--action", "ec2:RunInstances", "--region", "us-east-2", "--format", "json",
        ]
    )  # fmt: skip
    return code, str(json.loads(capsys.readouterr().out)["decision"])


def _checkov(plan_json: Path) -> dict[str, dict[str, set[str]]]:
    args = ["--framework", "terraform_plan", "--external-checks-dir", str(CHECKS_DIR), "-o", "json"]
    _, stdout, stderr = run_checkov([*args, "-f", str(plan_json)], plan_json.parent)
    assert stdout.strip(), stderr
    report = parse_report(stdout)
    return {
        "passed": {
            k: {r for _, r in v} for k, v in report.passed.items() if k.startswith("CKV_RG")
        },
        "failed": {
            k: {r for _, r in v} for k, v in report.failed.items() if k.startswith("CKV_RG")
        },
    }


def test_excluding_an_ou_by_id_or_by_name_deploys_the_same_everywhere(
    repo: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, endpoint = repo
    env_dir = root / "envs" / "local"
    settings = (env_dir / "terraform.tfvars").read_text()
    sandbox_id = _sandbox_ou_id(endpoint)
    tf = Terraform(env_dir, timeout=300, env=terraform_environment(endpoint, os.environ))
    tf.init()
    seen: dict[str, dict[str, Any]] = {}
    for selector in ("Sandbox", sandbox_id):
        (env_dir / "terraform.tfvars").write_text(
            settings + f'\ntarget_ou_exclude = ["{selector}"]\n'
        )
        tf.plan(env_dir / "tfplan")
        text = tf.show_json_text(env_dir / "tfplan")
        plan_json = env_dir / f"tfplan-{selector}.json"
        plan_json.write_text(text)
        planned = dep.from_plan(parse_plan(text, str(plan_json)), "after")

        env = Environment(env_dir, TODAY)
        modelled = dep.from_environment(
            env, first_tier_from_org(sandbox_facts(endpoint)), complete=True
        )
        scenario = scenario_from_env(env)  # what explain, matrix and verify evaluate
        runs = verify_runs(env, env.expectations_path, rendered=True)
        seen[selector] = {
            "plan": _shape(planned),
            "model": _shape(modelled),
            "scenario source": scenario.source,
            "explain research": _explain(env_dir, "research", capsys),
            "explain payments": _explain(env_dir, "payments", capsys),
            "facts": [(o.expectation.fact, o.holds) for _, outcomes in runs for o in outcomes],
            "broken": broken_facts(runs),
            "checkov": _checkov(plan_json),
        }

    by_name, by_id = seen["Sandbox"], seen[sandbox_id]
    assert by_name == by_id
    # And what they agree on is the exclusion: Sandbox carries nothing, the others both pieces.
    assert sorted(by_name["plan"]["targets"]) == ["Security", "Workloads"]
    assert by_name["plan"]["not_covered"] == ["Sandbox"]
    assert by_name["plan"] == by_name["model"]
    # research (Sandbox OU) is outside the Region deny now; payments (Workloads) is not.
    assert by_name["explain research"] == (0, "ALLOW")
    assert by_name["explain payments"] == (0, "DENY")
    assert by_name["checkov"]["failed"] == {}
    assert set(by_name["checkov"]["passed"]) >= {"CKV_RG_4", "CKV_RG_10"}
