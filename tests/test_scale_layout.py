"""The per-OU layout on the sandbox: 2,000 permitted accounts over 4 first-tier OUs.

One story on one copy of envs/local (tests/scale_org.py): validate, plan,
apply and an empty re-plan through the regionguard pipeline; every SCP
under the limit, read back; the decisions of the per-OU deployment, read
back through the Organizations API, equal to those of one unlimited single
SCP; then an account moved to another OU out of band loses its permit (never
gains one), the review and the drift check show the permit moving, and the
next apply gives it back.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import copy_local_env
from regionguard.aws import sandbox_client
from regionguard.environment import Environment
from regionguard.evaluator import AccountPath, Evaluator, OrgNode, OrgTree, Policy
from regionguard.local_sandbox import terraform_environment
from regionguard.orgmodel import Scenario, commercial_regions, sandbox_facts, scenario_from_org
from regionguard.render import render_scp
from regionguard.repo import today_utc
from regionguard.sandbox import process
from regionguard.settings import AWS_SCP_SIZE_LIMIT
from regionguard.terraform import Terraform
from scale_org import FIRST_TIER, write_scale_org

pytestmark = [pytest.mark.sandbox, pytest.mark.terraform]

SCP_NAME = "bedrock-cross-region-inference"
GUARDED = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
# Other actions, sampled: the Region deny's own, one it never denies, and Bedrock's others.
SAMPLE = ("ec2:RunInstances", "iam:ListRoles", "bedrock:ListFoundationModels", "s3:GetObject")
EXPECTATIONS = """\
expectations:
  - fact: permitted accounts can invoke Bedrock in us-east-2
    accounts: permitted
    actions: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]
    regions: [us-east-2]
    expect: allow
  - fact: accounts not permitted cannot invoke Bedrock outside the allowed Regions
    accounts: not_permitted
    actions: [bedrock:InvokeModel]
    regions: not_allowed
    expect: deny
"""


@dataclass
class Org:
    root: Path
    env_dir: Path
    port: int
    endpoint: str
    org: Any
    permitted: dict[str, list[str]]

    def regionguard(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "regionguard", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=1200,
            env=dict(os.environ, REGIONGUARD_ROOT=str(self.root)),
        )
        if ok:
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    def pipeline(self, command: str) -> str:
        args = [command, "--env-dir", str(self.env_dir), "--sandbox-port", str(self.port)]
        return self.regionguard(*args).stdout

    def plan_is_empty(self) -> bool:
        tf = Terraform(self.env_dir, env=terraform_environment(self.endpoint, os.environ))
        return tf.plan() is False

    def ou_id(self, name: str) -> str:
        root = self.org.list_roots()["Roots"][0]["Id"]
        for ou in self.org.list_organizational_units_for_parent(ParentId=root)[
            "OrganizationalUnits"
        ]:
            if ou["Name"] == name:
                return str(ou["Id"])
        raise KeyError(name)

    def scenario(self) -> Scenario:
        return scenario_from_org(
            sandbox_facts(self.endpoint), Environment(self.env_dir, today_utc())
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    root = tmp_path_factory.mktemp("scale")
    env_dir = copy_local_env(root)
    permitted = write_scale_org(env_dir)
    (env_dir / "expectations.yaml").write_text(EXPECTATIONS)
    port = _free_port()
    org = Org(root, env_dir, port, f"http://127.0.0.1:{port}", None, permitted)
    org.regionguard("tfvars", "--env-dir", str(env_dir))
    try:
        info, _ = process.up(root / ".sandbox", env_dir.resolve(), port=port)
        org.endpoint = info.endpoint
        org.org = sandbox_client("organizations", info.endpoint, "us-east-1")
        yield org
    finally:
        process.down(root / ".sandbox")


def unlimited_single(scenario: Scenario, env: Environment) -> Scenario:
    """The same organization with one SCP listing every permitted account, with no size limit.

    This project's SCPs are taken off every level; the single SCP goes on
    every first-tier OU that carried one.
    """
    single = Policy(SCP_NAME, render_scp(env.settings, env.deployed_ids), "p-single")
    nodes: dict[str, OrgNode] = {}

    def swap(node: OrgNode, depth: int) -> OrgNode:
        if node.node_id in nodes:
            return nodes[node.node_id]
        kept = tuple(p for p in node.policies if not p.name.startswith(SCP_NAME))
        had = len(kept) != len(node.policies)
        if node.kind == "ou" and depth == 1 and had:
            kept += (single,)
        new = OrgNode(node.kind, node.node_id, node.name, kept)
        nodes[node.node_id] = new
        return new

    accounts = tuple(
        AccountPath(a.account_id, a.name, tuple(swap(n, d) for d, n in enumerate(a.levels)))
        for a in scenario.org.accounts
    )
    org = OrgTree(accounts, scenario.org.management_account_id, scenario.org.org_id)
    return Scenario(
        org,
        "unlimited single SCP",
        scenario.account_names,
        scenario.permitted,
        scenario.allowed_regions,
        scenario.actions,
    )


def test_validate_plan_apply_and_replan_with_2000_permitted_accounts(scale: Org) -> None:
    validated = scale.regionguard("validate", "--env-dir", str(scale.env_dir))
    assert "validate" in validated.stdout and "passed" in validated.stdout
    scale.pipeline("plan")
    review = (scale.env_dir / "tfplan.md").read_text()
    assert "**SCP layout**: per\\_ou (auto: the single SCP would be" in review
    assert "2000 permitted accounts, over the 10240-character limit" in review
    assert "(Workloads)" in review.split("split over their child OUs")[1].splitlines()[0]
    scale.pipeline("apply")
    assert scale.plan_is_empty(), "the plan after apply must be empty"


def test_every_scp_is_under_the_limit_and_lists_only_its_ou(scale: Org) -> None:
    policies = scale.org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    ours = [p for p in policies if p["Name"].startswith(SCP_NAME)]
    # 4 first-tier OUs, and Workloads' two child OUs.
    assert len(ours) == 6, [p["Name"] for p in ours]
    for summary in ours:
        content = scale.org.describe_policy(PolicyId=summary["Id"])["Policy"]["Content"]
        assert len(content) <= AWS_SCP_SIZE_LIMIT, (summary["Name"], len(content))
    for name in FIRST_TIER:
        attached = scale.org.list_policies_for_target(
            TargetId=scale.ou_id(name), Filter="SERVICE_CONTROL_POLICY"
        )["Policies"]
        assert [p["Name"] for p in attached if p["Name"].startswith(SCP_NAME)] == [
            f"{SCP_NAME}-{scale.ou_id(name)}"
        ]


def test_per_ou_decisions_equal_one_unlimited_single_scp(scale: Org) -> None:
    env = Environment(scale.env_dir, today_utc())
    per_ou = scale.scenario()
    single = unlimited_single(per_ou, env)
    accounts = [a.account_id for a in per_ou.org.accounts]
    assert len(accounts) > 2000
    regions = (*commercial_regions(), "unspecified")
    actions = (*GUARDED, *SAMPLE)
    got = Evaluator(per_ou.org).matrix(accounts, regions, actions)
    want = Evaluator(single.org).matrix(accounts, regions, actions)
    differ = [
        (c.account_id, c.region, c.action)
        for c, w in zip(got.cells(), want.cells(), strict=True)
        if c.decision.effect != w.decision.effect
    ]
    assert not differ, differ[:10]
    # The comparison is not vacuous: both allow and deny guarded calls outside the Regions.
    effects = {c.decision.effect for c in got.cells() if c.region == "us-east-2"}
    assert effects == {"ALLOW", "DENY"}


def test_a_moved_account_loses_its_permit_until_the_next_apply(scale: Org) -> None:
    moved = scale.permitted["Sandbox"][0]
    source, dest = scale.ou_id("Sandbox"), scale.ou_id("Data")
    scale.org.move_account(AccountId=moved, SourceParentId=source, DestinationParentId=dest)
    evaluator = Evaluator(scale.scenario().org)

    def effect(account: str, region: str) -> str:
        from regionguard.evaluator import Request

        return evaluator.evaluate(Request(account, "bedrock:InvokeModel", region)).effect

    assert effect(moved, "us-east-2") == "DENY", "a moved account must lose its permit"
    assert effect(moved, "us-east-1") == "ALLOW", "inside the allowed Regions nothing changes"
    assert effect(scale.permitted["Sandbox"][1], "us-east-2") == "ALLOW"

    drift = scale.regionguard(
        "drift", "--env-dir", str(scale.env_dir), "--sandbox-port", str(scale.port), ok=False
    )
    assert drift.returncode == 1
    report = (scale.env_dir / "drift.md").read_text()
    assert f"account moved out of band: {moved}" in report

    scale.pipeline("plan")
    review = (scale.env_dir / "tfplan.md").read_text()
    line = next(x for x in review.splitlines() if "permit moves" in x)
    assert moved in line and "(Sandbox)" in line.split(" to ")[0] and "(Data)" in line
    scale.pipeline("apply")
    evaluator = Evaluator(scale.scenario().org)
    assert effect(moved, "us-east-2") == "ALLOW"
    assert scale.plan_is_empty()
