"""The per-OU layout's rules without AWS: org paths in the evaluator, spared child OUs, quota.

The sandbox story (tests/test_scale_layout.py) runs the same rules against
real Terraform; these cases pin each rule, including the ways it must fail
closed.
"""

from __future__ import annotations

import dataclasses

import pytest

from regionguard.checks import check_deployment
from regionguard.deployment import Deployment, OrgUnit, OuDeployment, ScpDoc
from regionguard.evaluator import AccountPath, Evaluator, OrgNode, OrgTree, Policy, Request
from regionguard.layout import Descended, compute_layout
from regionguard.render import render_control_parameters, render_scp
from regionguard.rules import decode_parameters, guard_problems, spared_ou_ids
from regionguard.settings import Settings

SEED = Settings(
    home_region="us-east-1",
    allowed_regions=("us-east-1",),
    exempted_actions=("bedrock:InvokeModel",),
    guarded_actions=("bedrock:InvokeModel",),
)
ORG, ROOT = "o-abcdefghij", "r-ab12"
T, C, D = "ou-ab12-aaaaaaaa", "ou-ab12-cccccccc", "ou-ab12-dddddddd"
PREFIX = f"{ORG}/{ROOT}/"
FULL = Policy(
    "FullAWSAccess",
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
)


def _tree(org_id: str | None) -> tuple[OrgTree, dict[str, str]]:
    """T descended: C has its own SCP; D (created later) has none; accounts directly under T."""
    scp_t = render_scp(SEED, ["777777777777"], [f"{PREFIX}{T}/{C}/*"])
    scp_c = render_scp(SEED, ["111111111112"])
    root = OrgNode("root", ROOT, "Root", (FULL,))
    t = OrgNode("ou", T, "T", (FULL, Policy("t", scp_t)))
    c = OrgNode("ou", C, "C", (FULL, Policy("c", scp_c)))
    d = OrgNode("ou", D, "D", (FULL,))
    where = {
        "111111111112": (t, c),
        "111111111113": (t, c),
        "777777777777": (t,),
        "888888888888": (t,),
        "999999999999": (t, d),
    }
    accounts = tuple(
        AccountPath(a, a, (root, *chain, OrgNode("account", a, a, (FULL,))))
        for a, chain in where.items()
    )
    expected = {
        "111111111112": "ALLOW",  # permitted by its child OU's SCP, spared by T's
        "111111111113": "DENY",  # under C, not in C's list
        "777777777777": "ALLOW",  # directly under T, in T's list
        "888888888888": "DENY",  # directly under T, not listed
        "999999999999": "DENY",  # under an OU created after the apply: not spared
    }
    return OrgTree(accounts, None, org_id), expected


def test_org_paths_decide_each_account_of_a_descended_ou() -> None:
    org, expected = _tree(ORG)
    evaluator = Evaluator(org)
    got = {
        a: evaluator.evaluate(Request(a, "bedrock:InvokeModel", "us-east-2")).effect
        for a in expected
    }
    assert got == expected
    matrix = evaluator.matrix(list(expected), ["us-east-2", "us-east-1"], ["bedrock:InvokeModel"])
    assert {
        a: matrix.decision(a, "us-east-2", "bedrock:InvokeModel").effect for a in expected
    } == expected
    assert {matrix.decision(a, "us-east-1", "bedrock:InvokeModel").effect for a in expected} == {
        "ALLOW"
    }


def test_without_the_organization_id_the_first_tier_deny_applies() -> None:
    # aws:PrincipalOrgPaths missing: ForAllValues:StringNotLike is true, the Deny applies.
    org, _ = _tree(None)
    evaluator = Evaluator(org)
    assert (
        evaluator.evaluate(Request("111111111112", "bedrock:InvokeModel", "us-east-2")).effect
        == "DENY"
    )
    assert (
        evaluator.evaluate(Request("777777777777", "bedrock:InvokeModel", "us-east-2")).effect
        == "ALLOW"
    )


def _statement(paths: list[str]) -> dict[str, object]:
    return {
        "Effect": "Deny",
        "Action": ["bedrock:InvokeModel"],
        "Resource": "*",
        "Condition": {
            "StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]},
            "ForAllValues:StringNotLike": {"aws:PrincipalOrgPaths": paths},
        },
    }


def test_a_guard_may_spare_exact_child_ous_only() -> None:
    assert guard_problems(_statement([f"{PREFIX}{T}/{C}/*"])) == []
    assert spared_ou_ids(_statement([f"{PREFIX}{T}/{C}/*", f"{PREFIX}{T}/{D}/*"])) == (C, D)
    for bad in (
        f"{PREFIX}{T}/*",  # a whole first-tier OU
        f"{PREFIX}{T}/ou-*/*",  # any child OU, present or future
        f"{PREFIX}*",
        f"{PREFIX}{T}/{C}/",  # not everything under the child
    ):
        assert guard_problems(_statement([bad])), bad
    other_key = _statement([f"{PREFIX}{T}/{C}/*"])
    other_key["Condition"] = {
        "StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]},
        "ForAllValues:StringNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/x"]},
    }
    assert guard_problems(other_key)


def _deployment(child_scp: str | None, other_scps: int | None = None) -> Deployment:
    raw = render_control_parameters(SEED)
    control = {k: tuple(v) for k, v in decode_parameters(raw)[0].items()}
    t_scp = ScpDoc("t", render_scp(SEED, ["777777777777"], [f"{PREFIX}{T}/{C}/*"]))
    items = [OuDeployment(OrgUnit(T, "T"), (t_scp,), control, raw, (), other_scps)]
    if child_scp is not None:
        items.append(OuDeployment(OrgUnit(C, "C"), (ScpDoc("c", child_scp),), None, None))
    return Deployment("test", tuple(items))


def _errors(deployment: Deployment) -> list[str]:
    found = check_deployment(deployment, home_region="us-east-1")
    return [f"{f.rule_id}: {f.message}" for f in found if f.level == "error"]


def test_a_spared_child_ou_must_carry_its_own_guard() -> None:
    assert _errors(_deployment(render_scp(SEED, ["111111111112"]))) == []
    missing = _errors(_deployment(None))
    assert len(missing) == 1 and missing[0].startswith("RG-CTRL-UNGUARDED")
    assert f"spares the accounts under {C}" in missing[0]
    # A child SCP that spares in turn guards nothing for this purpose.
    nested = render_scp(SEED, [], [f"{PREFIX}{T}/{C}/{D}/*"])
    assert any("RG-CTRL-UNGUARDED" in e for e in _errors(_deployment(nested)))


@pytest.mark.parametrize(("others", "over"), [(None, False), (8, False), (9, True)])
def test_the_quota_counts_ours_the_control_and_the_others(others: int | None, over: bool) -> None:
    # 1 of ours + 1 of the control + others (None: FullAWSAccess assumed).
    errors = [e for e in _errors(_deployment(render_scp(SEED, []), others)) if "QUOTA" in e]
    assert bool(errors) == over, errors
    if over:
        assert "OU ou-ab12-aaaaaaaa (T) would carry 11 directly attached SCPs" in errors[0]


def test_auto_switches_and_descends_as_the_module_does() -> None:
    ids = tuple(f"1000000000{i:02d}" for i in range(12))
    small = compute_layout(SEED, ids[:2], (T,), {T: list(ids[:2])})
    assert small.kind == "single" and small.reason.startswith("auto: the single SCP (")
    tight = dataclasses.replace(SEED, scp_size_limit=330)
    layout = compute_layout(tight, ids, (T, D), {T: list(ids[:8]), D: list(ids[8:9])})
    assert layout.kind == "per_ou" and layout.descended == (T,)
    descended = compute_layout(
        tight,
        ids,
        (T, D),
        {T: list(ids[:8]), D: list(ids[8:9])},
        {T: Descended((ids[0],), {C: tuple(ids[1:3])})},
        PREFIX,
    )
    groups = {g.key: g for g in descended.groups}
    assert groups[T].account_ids == (ids[0],)
    assert groups[T].spared_org_paths == (f"{PREFIX}{T}/{C}/*",)
    assert groups[C].account_ids == ids[1:3] and groups[C].second_tier
    assert groups[D].account_ids == (ids[8],)
    # Accounts placed under no target are in no list.
    assert not set(ids[9:]) & {a for g in descended.groups for a in g.account_ids}
