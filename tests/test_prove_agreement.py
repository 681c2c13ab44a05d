"""Agreement: the proof's formulas and the evaluator decide every request alike.

On every call of the matrix (the shipped environments, with and without the
landing-zone deny, and an organization whose per-OU SCPs spare child OUs by
aws:PrincipalOrgPaths) and of the differential test's generated
organizations and calls, the formula of the request's path of SCPs
(:class:`regionguard.prove.ConcreteDecider`) gives the evaluator's decision.
P3's formula (:class:`regionguard.prove.ProfileCallDecider`) gives the
evaluator's decision on every whole call through every profile of AWS's
table, from each of its source Regions, and through a profile the table does
not name from each Region of its geography, under SCPs that deny some legs
of some of those calls only.
A generated policy that uses what prove does not model must be refused, not
decided. The management account and service-linked roles are left out:
SCPs do not affect them and the properties do not ask about them.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regionguard.environment import Environment
from regionguard.evaluator import (
    AccountPath,
    Evaluator,
    OrgNode,
    OrgTree,
    Policy,
    Request,
    is_service_linked_role,
)
from regionguard.orgmodel import Scenario, commercial_regions, scenario_from_env
from regionguard.prove import ConcreteDecider, ProfileCallDecider, spec_from_env
from regionguard.request import (
    PARTITION,
    RequestError,
    build_request,
    call_for,
    decide,
    load_profile_data,
    parse_profile,
)
from regionguard.scpformula import Unmodelled
from test_evaluator_differential import (
    MODEL_ID,
    GeneratedCall,
    call_organization,
    generated_call,
    organization,
    request,
)
from test_per_ou_rules import ORG, _tree

# A differential test: tens of thousands of requests, about a minute.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
TODAY = datetime.date(2026, 11, 30)
REGIONS = (*commercial_regions(), "unspecified")


class Agreement:
    """One decider per path of SCPs; counts the requests compared."""

    def __init__(self, org: OrgTree) -> None:
        self.org = org
        self.evaluator = Evaluator(org)
        self.deciders: dict[str, ConcreteDecider] = {}
        self.compared = 0

    def decider(self, account: AccountPath) -> ConcreteDecider:
        key = account.account_id
        if key not in self.deciders:
            org_path = account.org_path(self.org.org_id) if self.org.org_id else None
            self.deciders[key] = ConcreteDecider(
                tuple(n.policies for n in account.levels), org_path
            )
        return self.deciders[key]

    def check(self, req: Request) -> None:
        if req.account_id == self.org.management_account_id:
            return
        if is_service_linked_role(req.caller_arn):
            return
        path = self.org.path(req.account_id)
        assert path is not None
        expected = self.evaluator.evaluate(req)
        assert self.decider(path).decide(req) == expected.allowed, (req, expected.reason)
        self.compared += 1


def environment(name: str) -> Environment:
    return Environment(REPO / "envs" / name, TODAY)


def matrix_requests(scenario: Scenario) -> Iterable[Request]:
    """The matrix's calls (every account, Region and action) and the legs of profile calls:
    through each profile of AWS's table from its first source Region, and through a profile
    the table does not name (the geography's union) from two Regions of each geography."""
    profiles = load_profile_data()
    for account in scenario.org.accounts:
        for region in REGIONS:
            for action in scenario.actions:
                yield Request(account.account_id, action, region)
        for geography in profiles.geographies.values():
            if geography.partition != PARTITION:
                continue
            calls = [(f"{geography.prefix}.{MODEL_ID}", s) for s in geography.regions[:2]]
            for profile_id, route in profiles.routes.items():
                if profile_id.partition(".")[0] == geography.prefix:
                    calls.append((profile_id, route.sources[0]))
            for profile_id, source in calls:
                for action in ("bedrock:Converse", "bedrock:InvokeModelWithResponseStream"):
                    call = call_for(
                        build_request(
                            account.account_id,
                            action,
                            source,
                            inference_profile=profile_id,
                            profile_data=profiles,
                        )
                    )
                    yield from call.requests()


@pytest.mark.parametrize(
    ("env", "landing_zone_deny"), [("local", False), ("local", True), ("prod", False)]
)
def test_the_matrix_of_a_shipped_environment(env: str, landing_zone_deny: bool) -> None:
    scenario = scenario_from_env(environment(env), landing_zone_deny=landing_zone_deny)
    agreement = Agreement(scenario.org)
    for req in matrix_requests(scenario):
        agreement.check(req)
    assert agreement.compared > len(REGIONS) * 3


def test_the_matrix_of_an_organization_that_spares_child_ous() -> None:
    org, expected = _tree(ORG)
    agreement = Agreement(org)
    for account in expected:
        for region in ("us-east-1", "us-east-2", "unspecified"):
            for action in ("bedrock:InvokeModel", "ec2:RunInstances"):
                agreement.check(Request(account, action, region))
    assert agreement.compared == len(expected) * 6


COMPARED: list[int] = []
REFUSED: list[int] = []


def _unmodelled(operator: str, key: str, value: str) -> bool:
    """What the generator uses that prove does not model: aws:TagKeys, Bool on
    aws:ViaAWSService, and an account pattern that mixes digits and wildcards."""
    if key in ("aws:TagKeys", "aws:ViaAWSService"):
        return True
    return "Like" in operator and value == "1111*"


def _conditions(policy: Policy) -> Iterable[tuple[dict[str, Any], str, str, list[str]]]:
    document = json.loads(policy.document)
    statements = document["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        for operator, block in statement.get("Condition", {}).items():
            for key, raw in block.items():
                yield statement, operator, key, raw if isinstance(raw, list) else [raw]


def _modelled(policy: Policy) -> Policy:
    """The policy without the conditions prove does not model."""
    document = json.loads(policy.document)
    statements = document["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        condition = statement.get("Condition", {})
        for operator in list(condition):
            block = condition[operator]
            for key in list(block):
                values = block[key] if isinstance(block[key], list) else [block[key]]
                kept = [v for v in values if not _unmodelled(operator, key, v)]
                if kept:
                    block[key] = kept
                else:
                    del block[key]
            if not block:
                del condition[operator]
        if "Condition" in statement and not condition:
            del statement["Condition"]
    return Policy(policy.name, json.dumps(document), policy.policy_id)


def _uses_unmodelled(levels: Iterable[Iterable[Policy]]) -> bool:
    return any(
        _unmodelled(operator, key, v)
        for level in levels
        for p in level
        for _, operator, key, values in _conditions(p)
        for v in values
    )


def _sanitized(org: OrgTree) -> OrgTree:
    accounts = tuple(
        AccountPath(
            a.account_id,
            a.name,
            tuple(
                OrgNode(n.kind, n.node_id, n.name, tuple(_modelled(p) for p in n.policies))
                for n in a.levels
            ),
        )
        for a in org.accounts
    )
    return OrgTree(accounts, org.management_account_id, org.org_id)


def _agree_or_refuse(org: OrgTree, requests: list[Request]) -> None:
    """Refusal where the policies use what prove does not model; agreement once they do not."""
    for account in org.accounts:
        levels = tuple(n.policies for n in account.levels)
        if _uses_unmodelled(levels):
            with pytest.raises(Unmodelled) as refused:
                ConcreteDecider(levels, None)
            assert any(
                w in str(refused.value) for w in ("aws:tagkeys", "aws:viaawsservice", "1111*")
            )
            REFUSED.append(1)
    agreement = Agreement(_sanitized(org))
    for req in requests:
        agreement.check(req)
    COMPARED.append(agreement.compared)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(organization(), st.lists(request(), min_size=15, max_size=25))
def test_the_differential_tests_requests(org: OrgTree, requests: list[Request]) -> None:
    _agree_or_refuse(org, requests)


def _legs(call: GeneratedCall) -> list[Request]:
    arn = f"arn:aws:iam::{call.account}:role{call.role_path}{call.role_name}"
    try:
        checked = build_request(
            call.account,
            call.action,
            call.region,
            principal_arn=arn,
            inference_profile=f"{call.geography}.{MODEL_ID}" if call.geography else None,
        )
    except RequestError:
        return []
    return list(call_for(checked).requests())


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(call_organization(), st.lists(generated_call(), min_size=10, max_size=20))
def test_the_differential_tests_calls_leg_by_leg(org: OrgTree, calls: list[GeneratedCall]) -> None:
    _agree_or_refuse(org, [leg for call in calls for leg in _legs(call)])


def test_the_differential_runs_compared_thousands_and_refused_only_the_unmodelled() -> None:
    if not COMPARED:
        test_the_differential_tests_requests()
        test_the_differential_tests_calls_leg_by_leg()
    assert sum(COMPARED) >= 5000
    assert REFUSED  # the generator's aws:TagKeys and Bool conditions were refused


# ---------------------------------------------------------------- P3: whole calls through profiles

ML_PLATFORM = "100000000001"
UNLISTED = "model-not-in-the-table"
# The action of every call below; P3's formula leaves the leg free, the call is pinned.
INVOKE = "bedrock:InvokeModel"


def profile_calls() -> list[tuple[str, str]]:
    """Every (profile id, source Region) of AWS's table in the aws partition, and an id of each
    geography the table does not name (the geography-union fallback) from each of its Regions."""
    profiles = load_profile_data()
    calls = []
    for geography in profiles.geographies.values():
        if geography.partition != PARTITION:
            continue
        listed = [p for p in profiles.routes if p.partition(".")[0] == geography.prefix]
        for profile_id in [*listed, f"{geography.prefix}.{UNLISTED}"]:
            profile = parse_profile(profile_id, profiles)
            calls += [(profile_id, source) for source in profile.sources]
    return calls


def _deny(condition: dict[str, Any], resource: str = "*") -> Policy:
    statement = {
        "Effect": "Deny",
        "Action": "bedrock:InvokeModel*",
        "Resource": resource,
        "Condition": condition,
    }
    return Policy("extra", json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


US_ANTHROPIC = "arn:aws:bedrock:*:*:inference-profile/us.anthropic.*"
PROFILE_FROM_US_EAST_1 = "arn:aws:bedrock:us-east-1:*:inference-profile/*"
FROM_US_EAST_1 = {"ArnLike": {"bedrock:InferenceProfileArn": PROFILE_FROM_US_EAST_1}}
P3_BREAKS: dict[str, Policy | None] = {
    "none": None,
    # Legs to ca-west-1 of calls made in us-east-1: only an unlisted us. profile makes them.
    "ca-west-1 from us-east-1": _deny(
        {"StringEquals": {"aws:RequestedRegion": "ca-west-1"}, **FROM_US_EAST_1}
    ),
    # The same legs named by their resource: P3's leg-by-leg formula.
    "ca-west-1 from us-east-1, by resource": _deny(
        FROM_US_EAST_1, "arn:aws:bedrock:ca-west-1::foundation-model/*"
    ),
    "us-west-1": _deny({"StringEquals": {"aws:RequestedRegion": "us-west-1"}}),
    "the Region-less model": _deny({"StringEquals": {"aws:RequestedRegion": "unspecified"}}),
    "us.anthropic profiles in us-east-2": _deny(
        {
            "StringEquals": {"aws:RequestedRegion": "us-east-2"},
            "ArnLike": {"bedrock:InferenceProfileArn": US_ANTHROPIC},
        }
    ),
    "eu-west-2 models, by resource": _deny(
        {"Null": {"bedrock:InferenceProfileArn": "false"}},
        "arn:aws:bedrock:eu-west-2::foundation-model/*",
    ),
}


def _with_policy(account: AccountPath, policy: Policy | None) -> AccountPath:
    """The account's path with ``policy`` added to its first-tier OU."""
    if policy is None:
        return account
    levels = list(account.levels)
    first = next(i for i, n in enumerate(levels) if n.kind == "ou")
    node = levels[first]
    levels[first] = OrgNode(node.kind, node.node_id, node.name, (*node.policies, policy))
    return AccountPath(account.account_id, account.name, tuple(levels))


@pytest.mark.parametrize(
    ("name", "landing_zone_deny"), [*((n, False) for n in sorted(P3_BREAKS)), ("none", True)]
)
def test_p3_decides_every_call_through_every_profile_as_the_evaluator(
    name: str, landing_zone_deny: bool
) -> None:
    env = environment("local")
    scenario = scenario_from_env(env, landing_zone_deny=landing_zone_deny)
    base = scenario.org.path(ML_PLATFORM)
    assert base is not None
    account = _with_policy(base, P3_BREAKS[name])
    org = OrgTree((account,), scenario.org.management_account_id, scenario.org.org_id)
    evaluator = Evaluator(org)
    profiles = load_profile_data()
    decider = ProfileCallDecider(
        tuple(n.policies for n in account.levels), None, spec_from_env(env, profiles), ML_PLATFORM
    )
    assert decider.per_leg == name.endswith("by resource")
    denied = []
    calls = profile_calls()
    for profile_id, source in calls:
        call = build_request(
            ML_PLATFORM, INVOKE, source, inference_profile=profile_id, profile_data=profiles
        )
        expected = decide(evaluator, call).allowed
        assert decider.allowed(INVOKE, source, profile_id) == expected, (profile_id, source)
        if not expected:
            denied.append((profile_id, source))
    assert len(calls) > 500
    if name.startswith("ca-west-1 from us-east-1") and not landing_zone_deny:
        assert denied == [(f"us.{UNLISTED}", "us-east-1")]
    elif name == "none" and not landing_zone_deny:
        assert denied == []
    else:
        assert 0 < len(denied) < len(calls)
