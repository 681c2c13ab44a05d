"""Mutation: broken deployments, each caught with a counterexample the evaluator confirms.

Each case breaks what envs/local deploys in one way (an exempted action the
SCP does not guard, a wildcard principal exemption, StringNotEquals turned
into StringEquals, a permitted account dropped or added, an allowed Region
added to one statement only, a per-OU SCP on the wrong OU, a spared child
path too wide, an expired permit left in, ...). The proof must fail the
property the break violates, with a counterexample; the test then evaluates
that request itself, with the evaluator on the broken organization (and,
where the break is in the environment's files, through the printed
`regionguard explain` command), and gets the counterexample's decision.
The unbroken deployments are proven first: every property holds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import json
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from regionguard import deployment as dep
from regionguard.cli import main
from regionguard.environment import Environment
from regionguard.evaluator import (
    AccountPath,
    Evaluator,
    OrgNode,
    OrgTree,
    Policy,
    Request,
)
from regionguard.orgmodel import (
    FULL_AWS_ACCESS,
    Scenario,
    deployment_from_env,
    landing_zone_policy,
    scenario_from_deployment,
)
from regionguard.prove import Counterexample, PropertyResult, prove, spec_from_env
from regionguard.render import render_scp
from regionguard.request import build_request, decide, load_profile_data

REPO = Path(__file__).resolve().parent.parent
TODAY = "2026-11-30"
PERMITTED, PAYMENTS, RESEARCH, LOG_ARCHIVE = (
    "100000000001",
    "100000000002",
    "100000000003",
    "100000000004",
)
ORG_ID, ROOT_ID = "o-abcdefghij", "r-ab12"
T, C = "ou-ab12-aaaaaaaa", "ou-ab12-cccccccc"
ENV_FILES = ("terraform.tfvars", "accounts.yaml", "accounts.auto.tfvars.json", "sandbox.yaml")


def local_env(tmp: Path, *, settings: str = "", edit: Callable[[str], str] | None = None) -> Path:
    """A copy of envs/local's inputs; ``settings`` added to terraform.tfvars, ``edit`` applied to
    accounts.yaml."""
    folder = tmp / "local"
    folder.mkdir()
    for name in ENV_FILES:
        shutil.copyfile(REPO / "envs" / "local" / name, folder / name)
    if settings:
        # A setting given again replaces the file's own (Terraform refuses one set twice).
        path = folder / "terraform.tfvars"
        text = path.read_text()
        for name in re.findall(r"^(\w+)\s*=", settings, re.MULTILINE):
            text = re.sub(rf"^{name}\s*=\s*(\[[^\]]*\]|[^\n]*)\n", "", text, flags=re.MULTILINE)
        path.write_text(text + "\n" + settings + "\n")
    if edit is not None:
        path = folder / "accounts.yaml"
        path.write_text(edit(path.read_text()))
    return folder


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv))
    return code, out.getvalue()


@dataclass
class Case:
    env: Environment
    scenario: Scenario
    deployment: dep.Deployment
    lz: Policy | None = None
    # The break is in the environment's files, so `regionguard explain` sees it too.
    in_files: bool = True

    def prove(self) -> dict[str, PropertyResult]:
        prefix = ["regionguard", "explain", "--env-dir", str(self.env.dir)]
        if self.lz is not None:
            prefix.append("--landing-zone-region-deny")
        results = prove(
            self.scenario,
            self.deployment,
            spec_from_env(self.env, load_profile_data(self.env.dir)),
            explain_prefix=prefix,
            landing_zone_deny=self.lz,
        )
        return {r.id: r for r in results}


def case_from(folder: Path, *, lz: bool = False) -> Case:
    env = Environment(folder, datetime.date.fromisoformat(TODAY))
    deployment = deployment_from_env(env)
    scenario = scenario_from_deployment(env, deployment, landing_zone_deny=lz)
    return Case(env, scenario, deployment, landing_zone_policy(env) if lz else None)


def rebuild(case: Case, deployment: dep.Deployment, **kwargs: Any) -> Case:
    scenario = scenario_from_deployment(
        case.env, deployment, landing_zone_deny=case.lz is not None, **kwargs
    )
    return dataclasses.replace(case, scenario=scenario, deployment=deployment, in_files=False)


# ---------------------------------------------------------------- breaking a deployment


def edit_guard(
    deployment: dep.Deployment, change: Callable[[dict[str, Any]], None], ou: str | None = None
) -> dep.Deployment:
    """Apply ``change`` to the first statement (the guard) of this project's SCP on each OU."""
    items = []
    for item in deployment.ous:
        if ou is not None and item.ou.name != ou:
            items.append(item)
            continue
        scps = []
        for scp in item.scps:
            document = json.loads(scp.content)
            change(document["Statement"][0])
            scps.append(dep.ScpDoc(scp.name, json.dumps(document)))
        items.append(dataclasses.replace(item, scps=tuple(scps)))
    return dataclasses.replace(deployment, ous=tuple(items))


def edit_control(
    deployment: dep.Deployment, key: str, values: list[str], ou: str | None = None
) -> dep.Deployment:
    items = []
    for item in deployment.ous:
        if item.control is not None and (ou is None or item.ou.name == ou):
            control = {**item.control, key: (*item.control.get(key, ()), *values)}
            item = dataclasses.replace(item, control=control)
        items.append(item)
    return dataclasses.replace(deployment, ous=tuple(items))


def on_ou(deployment: dep.Deployment, ou: str, **changes: Any) -> dep.Deployment:
    return dataclasses.replace(
        deployment,
        ous=tuple(
            dataclasses.replace(i, **changes) if i.ou.name == ou else i for i in deployment.ous
        ),
    )


def accounts(statement: dict[str, Any]) -> list[str]:
    ids: list[str] = statement["Condition"]["StringNotEquals"]["aws:PrincipalAccount"]
    return ids


def regions(statement: dict[str, Any]) -> list[str]:
    values: list[str] = statement["Condition"]["StringNotEquals"]["aws:RequestedRegion"]
    return values


# ---------------------------------------------------------------- confirming a counterexample


def confirm(case: Case, cx: Counterexample) -> str:
    """The evaluator's decision on the counterexample, by this test's own reading of it."""
    if cx.inference_profile is not None:
        call = build_request(
            cx.account_id,
            cx.action,
            cx.region,
            principal_arn=cx.principal_arn,
            inference_profile=cx.inference_profile,
            profile_data=load_profile_data(case.env.dir),
        )
        return decide(Evaluator(case.scenario.org), call).effect
    request = Request(
        cx.account_id,
        cx.action,
        cx.region,
        principal_arn=cx.principal_arn,
        resource=cx.resource,
        inference_profile_arn=cx.inference_profile_arn,
    )
    nodes: dict[str, OrgNode] = {}
    root = case.scenario.org.accounts[0].levels[0]
    for account in case.scenario.org.accounts:
        for node in account.levels:
            nodes.setdefault(node.node_id, node)
    placed = case.scenario.org.path(cx.account_id)
    if (
        placed is not None
        and tuple(n.node_id for n in placed.levels if n.kind == "ou") == cx.ou_ids
    ):
        return Evaluator(case.scenario.org).evaluate(request).effect
    chain = [nodes.get(i) or OrgNode("ou", i, i, (FULL_AWS_ACCESS,)) for i in cx.ou_ids]
    own = OrgNode("account", cx.account_id, cx.account_id, (FULL_AWS_ACCESS,))
    tree = OrgTree(
        (AccountPath(cx.account_id, cx.account_id, (root, *chain, own)),),
        case.scenario.org.management_account_id,
        case.scenario.org.org_id,
    )
    return Evaluator(tree).evaluate(request).effect


def explained(command: str) -> str:
    args = shlex.split(command)
    assert args[:2] == ["regionguard", "explain"]
    code, out = cli(*args[1:])
    assert code == 0, out
    return out.split(":", 1)[0]


# ---------------------------------------------------------------- the cases


def descended(case: Case, spared: str, *, child_scp: bool = True) -> Case:
    """Workloads (T) descended to its child OU ML (C), with ids and an organization id.

    ml-platform (permitted) is under C; payments (not permitted) directly under T.
    """
    settings = case.env.settings
    spare = f"{ORG_ID}/{ROOT_ID}/{spared}"
    control = next(i for i in case.deployment.ous if i.control is not None)
    target = dep.OuDeployment(
        dep.OrgUnit(T, "Workloads"),
        (dep.ScpDoc("scp-T", render_scp(settings, [], [spare])),),
        control.control,
        control.raw_control,
    )
    items = [target]
    if child_scp:
        child = dep.ScpDoc("scp-C", render_scp(settings, [PERMITTED]))
        items.append(dep.OuDeployment(dep.OrgUnit(C, "ML"), (child,), None, None))
    deployment = dep.Deployment("descended", tuple(items))
    placement = {PERMITTED: (T, C), PAYMENTS: (T,)}
    return rebuild(case, deployment, placement=placement, org_id=ORG_ID, root_id=ROOT_ID)


def per_ou(tmp: Path) -> Case:
    return case_from(local_env(tmp, settings='scp_layout = "per_ou"'))


def swap_first_two(case: Case) -> Case:
    items = list(case.deployment.ous)
    a, b = items[1], items[2]
    items[1] = dataclasses.replace(a, scps=b.scps)
    items[2] = dataclasses.replace(b, scps=a.scps)
    return rebuild(case, dataclasses.replace(case.deployment, ous=tuple(items)))


def without_full_access(case: Case, ou: str) -> Case:
    def strip(node: OrgNode) -> OrgNode:
        if node.kind == "ou" and node.name == ou:
            return dataclasses.replace(node, policies=node.policies[1:])
        return node

    org = case.scenario.org
    accounts_ = tuple(
        AccountPath(a.account_id, a.name, tuple(strip(n) for n in a.levels)) for a in org.accounts
    )
    tree = OrgTree(accounts_, org.management_account_id, org.org_id)
    return dataclasses.replace(
        case, scenario=dataclasses.replace(case.scenario, org=tree), in_files=False
    )


def with_extra_scp(case: Case, ou: str, document: dict[str, Any]) -> Case:
    extra = dep.ScpDoc("extra", json.dumps(document))
    items = tuple(
        dataclasses.replace(i, scps=(*i.scps, extra)) if i.ou.name == ou else i
        for i in case.deployment.ous
    )
    return rebuild(case, dataclasses.replace(case.deployment, ous=items))


def expire_research(text: str) -> str:
    return text.replace('expires: "2099-12-31"', 'expires: "2020-01-31"')


def set_ops(statement: dict[str, Any]) -> None:
    statement["Condition"]["StringEquals"] = statement["Condition"].pop("StringNotEquals")


MUTATIONS: dict[str, tuple[str, Callable[[Case, Path], Case]]] = {
    "exempted action the control exempts, not guarded": (
        "P2",
        lambda c, t: rebuild(
            c, edit_control(c.deployment, "ExemptedActions", ["bedrock:CreateModelInvocationJob"])
        ),
    ),
    "exempted action in the settings, not guarded": (
        "P1",
        lambda c, t: case_from(
            local_env(
                t,
                settings='exempted_actions = ["bedrock:InvokeModel", '
                '"bedrock:InvokeModelWithResponseStream", "bedrock:CreateModelInvocationJob"]\n'
                "allow_wildcard_exemptions = false",
            )
        ),
    ),
    "wildcard principal exemption": (
        "P2",
        lambda c, t: rebuild(
            c, edit_control(c.deployment, "ExemptedPrincipalArns", ["arn:aws:iam::*:role/*"])
        ),
    ),
    "one account's roles exempted from the Region deny": (
        "P2",
        lambda c, t: rebuild(
            c,
            edit_control(
                c.deployment, "ExemptedPrincipalArns", [f"arn:aws:iam::{PAYMENTS}:role/*"]
            ),
        ),
    ),
    "StringNotEquals turned into StringEquals": (
        "P1",
        lambda c, t: rebuild(c, edit_guard(c.deployment, set_ops)),
    ),
    "permitted account dropped": (
        "P3",
        lambda c, t: rebuild(c, edit_guard(c.deployment, lambda s: accounts(s).remove(PERMITTED))),
    ),
    "account added to the permitted list": (
        "P1",
        lambda c, t: rebuild(c, edit_guard(c.deployment, lambda s: accounts(s).append(PAYMENTS))),
    ),
    "account of no registry added": (
        "P1",
        lambda c, t: rebuild(
            c, edit_guard(c.deployment, lambda s: accounts(s).append("555555555555"))
        ),
    ),
    "allowed Region added to the guard only": (
        "P1",
        lambda c, t: rebuild(c, edit_guard(c.deployment, lambda s: regions(s).append("us-east-2"))),
    ),
    "allowed Region added to the control only": (
        "P2",
        lambda c, t: rebuild(c, edit_control(c.deployment, "AllowedRegions", ["us-east-2"])),
    ),
    "unspecified allowed by the guard": (
        "P1",
        lambda c, t: rebuild(
            c, edit_guard(c.deployment, lambda s: regions(s).append("unspecified"))
        ),
    ),
    "unspecified allowed by the control": (
        "P2",
        lambda c, t: rebuild(c, edit_control(c.deployment, "AllowedRegions", ["unspecified"])),
    ),
    "per-OU SCP on the wrong OU": ("P3", lambda c, t: swap_first_two(per_ou(t))),
    "spared child path too wide": ("P1", lambda c, t: descended(c, f"{T}/*")),
    "spared child OU without an SCP of its own": (
        "P1",
        lambda c, t: descended(c, f"{T}/{C}/*", child_scp=False),
    ),
    "expired permit left in": (
        "P1",
        lambda c, t: case_from(local_env(t, edit=expire_research)),
    ),
    "guard detached from an OU": (
        "P1",
        lambda c, t: rebuild(c, on_ou(c.deployment, "Security", scps=())),
    ),
    "control removed from an OU": (
        "P2",
        lambda c, t: rebuild(c, on_ou(c.deployment, "Security", control=None)),
    ),
    "guard spares a principal path": (
        "P1",
        lambda c, t: rebuild(
            c,
            edit_guard(
                c.deployment,
                lambda s: s["Condition"].update(
                    {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin*"}}
                ),
            ),
        ),
    ),
    "guard drops an exempted action": (
        "P1",
        lambda c, t: rebuild(
            c, edit_guard(c.deployment, lambda s: s.update({"Action": ["bedrock:InvokeModel"]}))
        ),
    ),
    "guard narrowed to foundation models": (
        "P1",
        lambda c, t: rebuild(
            c,
            edit_guard(
                c.deployment,
                lambda s: s.update({"Resource": "arn:aws:bedrock:*::foundation-model/*"}),
            ),
        ),
    ),
    "guard narrowed to direct calls": (
        "P1",
        lambda c, t: rebuild(
            c,
            edit_guard(
                c.deployment,
                lambda s: s["Condition"].update({"Null": {"bedrock:InferenceProfileArn": "true"}}),
            ),
        ),
    ),
    "guard turned into an Allow": (
        "P1",
        lambda c, t: rebuild(c, edit_guard(c.deployment, lambda s: s.update({"Effect": "Allow"}))),
    ),
    "FullAWSAccess missing on an OU": ("P3", lambda c, t: without_full_access(c, "Workloads")),
    "landing-zone Region deny left on": (
        "P3",
        lambda c, t: case_from(local_env(t), lz=True),
    ),
    "a Bedrock deny in a destination Region": (
        "P3",
        lambda c, t: with_extra_scp(
            c,
            "Workloads",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "bedrock:*",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:RequestedRegion": "us-west-2"}},
                    }
                ],
            },
        ),
    ),
}


def test_there_are_at_least_twenty_mutations() -> None:
    assert len(MUTATIONS) >= 20


def fresh(tmp: Path, name: str) -> Path:
    folder = tmp / name
    folder.mkdir()
    return folder


@pytest.fixture
def local(tmp_path: Path) -> Case:
    return case_from(local_env(fresh(tmp_path, "base")))


def test_the_unbroken_deployments_hold(tmp_path: Path) -> None:
    base = case_from(local_env(fresh(tmp_path, "a")))
    spread = case_from(local_env(fresh(tmp_path, "b"), settings='scp_layout = "per_ou"'))
    for case in (base, descended(base, f"{T}/{C}/*"), spread):
        results = case.prove()
        assert {pid: r.holds for pid, r in results.items()} == {"P1": True, "P2": True, "P3": True}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_broken_deployment_fails_with_a_confirmed_counterexample(
    name: str, local: Case, tmp_path: Path
) -> None:
    expected, mutate = MUTATIONS[name]
    case = mutate(local, fresh(tmp_path, "broken"))
    results = case.prove()
    result = results[expected]
    assert not result.holds, name
    cx = result.counterexample
    assert cx is not None
    wanted = "DENY" if expected == "P3" else "ALLOW"
    assert cx.decision == wanted
    assert confirm(case, cx) == wanted
    if result.explain is not None and case.in_files:
        assert explained(result.explain) == wanted


def _bedrock_deny(condition: dict[str, Any], resource: str = "*") -> dict[str, Any]:
    statement = {"Effect": "Deny", "Action": "bedrock:*", "Resource": resource}
    return {"Version": "2012-10-17", "Statement": [{**statement, "Condition": condition}]}


MADE_IN_US_EAST_1 = {
    "ArnLike": {"bedrock:InferenceProfileArn": "arn:aws:bedrock:us-east-1:*:inference-profile/*"}
}
# What a P3 counterexample must be: a profile of AWS's table or not, the source Region and
# the Region of the denied leg. Legs to ca-west-1 of calls made in us-east-1 are made only
# through a us. profile the table does not name (its calls reach every us. Region).
P3_CALLS: dict[str, tuple[dict[str, Any], bool, str]] = {
    "legs to ca-west-1 of calls made in us-east-1": (
        _bedrock_deny({"StringEquals": {"aws:RequestedRegion": "ca-west-1"}, **MADE_IN_US_EAST_1}),
        False,
        "ca-west-1",
    ),
    "the same legs, by their resource": (
        _bedrock_deny(MADE_IN_US_EAST_1, "arn:aws:bedrock:ca-west-1::foundation-model/*"),
        False,
        "ca-west-1",
    ),
    "legs to us-east-2": (
        _bedrock_deny({"StringEquals": {"aws:RequestedRegion": "us-east-2"}}),
        True,
        "us-east-2",
    ),
}


@pytest.mark.parametrize("name", sorted(P3_CALLS))
def test_a_p3_counterexample_is_a_call_the_request_model_makes(name: str, local: Case) -> None:
    document, listed, leg = P3_CALLS[name]
    case = with_extra_scp(local, "Workloads", document)
    result = case.prove()["P3"]
    cx = result.counterexample
    assert not result.holds
    assert cx is not None and cx.inference_profile is not None
    routes = load_profile_data().routes
    assert (cx.inference_profile in routes) is listed, cx.inference_profile
    assert (cx.inference_profile.partition(".")[0], cx.region) == ("us", "us-east-1")
    assert cx.note is not None and cx.note.split(";")[0].endswith(f"model in {leg}")
    assert confirm(case, cx) == "DENY"


def test_a_counterexample_the_request_model_refuses_says_so(local: Case, tmp_path: Path) -> None:
    # The control lets unspecified through: only the global model's leg of a profile call is
    # made there, which the guard covers, but P2 is proven for every action in every Region.
    case = MUTATIONS["unspecified allowed by the control"][1](local, fresh(tmp_path, "broken"))
    result = case.prove()["P2"]
    cx = result.counterexample
    assert cx is not None
    assert (cx.action, cx.region, cx.decision) == ("ec2:RunInstances", "unspecified", "ALLOW")
    assert cx.refused is not None
    assert "AWS sets aws:RequestedRegion to unspecified only" in cx.refused
    assert cx.note is not None and "the request model refuses it" in cx.note
    assert result.explain is None
    assert confirm(case, cx) == "ALLOW"
