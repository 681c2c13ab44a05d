"""Differential test: our evaluator against principalmapper's on generated organizations.

Two generated runs: single authorizations (the evaluator), and whole calls
(the request model): session ARNs with role paths, service-linked roles,
Converse, and calls through us./eu./jp./global. profiles. For calls the
harness below computes each leg's request context itself, from AWS's
documentation (docs/scp-evaluation.md, "The request model"), and asks
principalmapper about every leg; it imports nothing of regionguard.request,
so the oracle checks the model too.

The generator covers the grammar both evaluators implement the same way.
Constructs where principalmapper departs from the AWS documentation are left
out here and pinned, one test each, in test_evaluator_oracle_differences.py;
docs/scp-evaluation.md explains each with the AWS documentation that settles it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regionguard.evaluator import AccountPath, Evaluator, OrgNode, OrgTree, Policy, Request
from regionguard.oracle import Oracle
from regionguard.request import RequestError, build_request, decide

pytestmark = pytest.mark.slow

ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
MANAGEMENT = "999999999999"
ACTIONS = [
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
    "ec2:RunInstances",
    "iam:CreateRole",
    "s3:GetObject",
]
ACTION_PATTERNS = [
    *ACTIONS,
    "*",
    "bedrock:*",
    "bedrock:Invoke*",
    "bedrock:InvokeModel*",
    "ec2:Run?nstances",
    "iam:*",
    "s3:Get*",
    "BEDROCK:invokemodel",
]
RESOURCES = [
    "arn:aws:bedrock:us-east-2::foundation-model/anthropic.claude",
    "arn:aws:s3:::bucket/key",
    "arn:aws:ec2:us-east-1:111111111111:instance/i-1",
]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:bedrock:*",
    "arn:aws:bedrock:*::foundation-model/*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:ec2:*:*:instance/*",
    *RESOURCES,
]
REGIONS = ["us-east-1", "us-east-2", "eu-west-2", "ap-northeast-1", "unspecified"]
ROLES = ["WorkloadRole", "Admin", "AWSControlTowerExecution"]
PROFILES = [
    "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude",
    "arn:aws:bedrock:eu-west-2:222222222222:application-inference-profile/abc",
]
TAG_KEYS = ["team", "cost", "env"]

# Candidate policy values per condition key.
STRING_VALUES = {
    "aws:RequestedRegion": [
        *REGIONS,
        "us-west-2",
        "eu-central-1",
        "ap-northeast-3",
        "us-*",
        "*-2",
        "us-east-?",
        "eu-*",
    ],
    "aws:PrincipalAccount": [*ACCOUNTS, "1111*", "*"],
    "aws:TagKeys": [*TAG_KEYS, "t*", "c?st"],
}
ARN_VALUES = {
    "aws:PrincipalArn": [
        "arn:aws:iam::*:role/Admin",
        "arn:*:iam::*:role/AWSControlTowerExecution",
        "arn:aws:iam::111111111111:role/WorkloadRole",
        "arn:aws:iam::*:role/*",
        "arn:aws:iam::222222222222:role/Adm?n",
        "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_*",
        "arn:aws:iam::*:role/AWSReservedSSO_*",
        "arn:aws:iam::*:role/team/*",
        "arn:aws:iam::111111111111:role/team/Admin",
    ],
    "bedrock:InferenceProfileArn": [
        "arn:aws:bedrock:*:*:inference-profile/*",
        "arn:aws:bedrock:*:*:application-inference-profile/*",
        PROFILES[0],
    ],
}
OPTIONAL_KEYS = {"bedrock:InferenceProfileArn", "aws:TagKeys", "aws:ViaAWSService"}

STRING_OPS = ["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringLike"]
ARN_OPS = ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"]


@st.composite
def condition_block(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    block: dict[str, dict[str, Any]] = {}
    for _ in range(draw(st.integers(0, 3))):
        family = draw(st.sampled_from(["string", "arn", "null", "bool", "set"]))
        if family == "string":
            key = draw(st.sampled_from(sorted(STRING_VALUES)))
            ops = list(STRING_OPS)
            if key not in OPTIONAL_KEYS:
                ops += ["StringNotLike", "StringNotEqualsIgnoreCase"]
            op = draw(st.sampled_from(ops))
            if draw(st.booleans()):
                op += "IfExists"
            values = draw(st.lists(st.sampled_from(STRING_VALUES[key]), min_size=1, max_size=3))
        elif family == "arn":
            key = draw(st.sampled_from(sorted(ARN_VALUES)))
            op = draw(st.sampled_from(ARN_OPS)) + draw(st.sampled_from(["", "IfExists"]))
            values = draw(st.lists(st.sampled_from(ARN_VALUES[key]), min_size=1, max_size=3))
        elif family == "null":
            op = "Null"
            key = draw(st.sampled_from(["bedrock:InferenceProfileArn", "aws:TagKeys"]))
            values = [draw(st.sampled_from(["true", "false"]))]
        elif family == "bool":
            op = "Bool" + draw(st.sampled_from(["", "IfExists"]))
            key = "aws:ViaAWSService"
            values = [draw(st.sampled_from(["true", "false"]))]
        else:
            qualifier = draw(st.sampled_from(["ForAllValues:", "ForAnyValue:"]))
            base = ["StringEquals", "StringLike"]
            if qualifier == "ForAllValues:":
                base += ["StringNotEquals", "StringNotLike"]
            op = qualifier + draw(st.sampled_from(base))
            key = "aws:TagKeys"
            values = draw(st.lists(st.sampled_from(STRING_VALUES[key]), min_size=1, max_size=3))
        if op in block:
            continue  # one key per operator keeps ForAnyValue blocks single-keyed
        block[op] = {key: values if len(values) > 1 else values[0]}
    return block


@st.composite
def statement(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    if draw(st.booleans()):
        out["Sid"] = draw(st.sampled_from(["A", "B", "DenyBedrock"]))
    actions = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3))
    out["NotAction" if draw(st.integers(0, 3)) == 0 else "Action"] = actions
    resource_field = draw(st.sampled_from(["Resource", "Resource", "NotResource", None]))
    if resource_field:
        out[resource_field] = draw(
            st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2)
        )
    condition = draw(condition_block())
    if condition:
        out["Condition"] = condition
    return out


@st.composite
def policy(draw: st.DrawFn, name: str) -> Policy:
    statements = draw(st.lists(statement(), min_size=1, max_size=3))
    return Policy(name, json.dumps({"Version": "2012-10-17", "Statement": statements}))


FULL = Policy(
    "FullAWSAccess",
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
)


@st.composite
def level_policies(draw: st.DrawFn, prefix: str) -> tuple[Policy, ...]:
    count = draw(st.integers(0, 2))
    policies = [draw(policy(f"{prefix}-{i}")) for i in range(count)]
    if draw(st.integers(0, 5)) > 0:
        policies.insert(0, FULL)
    return tuple(policies)


@st.composite
def organization(draw: st.DrawFn) -> OrgTree:
    root = OrgNode("root", "r-root", "Root", draw(level_policies("root")))
    ous = [OrgNode("ou", f"ou-{i}", f"OU{i}", draw(level_policies(f"ou{i}"))) for i in range(2)]
    child = OrgNode("ou", "ou-child", "Child", draw(level_policies("child")))
    paths = [(root, ous[0]), (root, ous[1]), (root, ous[0], child)]
    accounts = []
    for i, account in enumerate(ACCOUNTS):
        path = paths[draw(st.integers(0, len(paths) - 1))] if i else paths[0]
        own = OrgNode("account", account, f"acct{i}", draw(level_policies(f"acct{i}")))
        accounts.append(AccountPath(account, f"acct{i}", (*path, own)))
    mgmt = AccountPath(MANAGEMENT, "management", (root, OrgNode("account", MANAGEMENT, "m", ())))
    accounts.append(mgmt)
    return OrgTree(tuple(accounts), MANAGEMENT)


@st.composite
def request(draw: st.DrawFn) -> Request:
    account = draw(st.sampled_from([*ACCOUNTS * 4, MANAGEMENT]))
    action = draw(st.sampled_from(ACTIONS))
    if draw(st.booleans()):
        action = draw(st.sampled_from([action.upper(), action.lower()]))
    role = draw(st.sampled_from(ROLES))
    principal = f"arn:aws:iam::{account}:role/{role}"
    if draw(st.sampled_from([False] * 9 + [True])):
        principal = (
            f"arn:aws:iam::{account}:role/aws-service-role/bedrock.amazonaws.com/"
            "AWSServiceRoleForAmazonBedrock"
        )
    context: list[tuple[str, tuple[str, ...]]] = []
    if draw(st.booleans()):
        tags = draw(st.lists(st.sampled_from(TAG_KEYS), min_size=1, max_size=3, unique=True))
        context.append(("aws:TagKeys", tuple(tags)))
    if draw(st.booleans()):
        context.append(("aws:ViaAWSService", (draw(st.sampled_from(["true", "false"])),)))
    return Request(
        account_id=account,
        action=action,
        region=draw(st.sampled_from(REGIONS)),
        principal_arn=principal,
        resource=draw(st.sampled_from(RESOURCES)),
        inference_profile_arn=draw(st.sampled_from([None, *PROFILES])),
        context=tuple(context),
    )


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(organization(), st.lists(request(), min_size=15, max_size=25))
def agree_on_requests(evaluated: list[int], org: OrgTree, requests: list[Request]) -> None:
    ours = Evaluator(org)
    theirs = Oracle(org)
    for req in requests:
        decision = ours.evaluate(req)
        assert decision.allowed == theirs.allows(req), (req, decision.reason, org)
    evaluated.append(len(requests))


def test_evaluator_agrees_with_principalmapper_on_thousands_of_requests() -> None:
    # The run and its count in one test: no test depends on another having run first.
    evaluated: list[int] = []
    agree_on_requests(evaluated)
    assert sum(evaluated) >= 3000


# ---------------------------------------------------------------- whole calls
# The harness: AWS's documented rules, written out here independently of regionguard.request.
# Geographic profiles: the profile in the source Region, then the foundation model in the
# source Region and in every destination Region, each with aws:RequestedRegion = that Region
# and bedrock:InferenceProfileArn = the profile ("Geographic cross-Region inference").
# Global profiles: the profile, the model in the source Region, and the Region-less model
# with aws:RequestedRegion = "unspecified" ("Global cross-Region inference").
# Converse is authorized as bedrock:InvokeModel, ConverseStream as
# bedrock:InvokeModelWithResponseStream (Bedrock User Guide, Converse API).
# aws:PrincipalArn of a role session is the role's ARN with its path (IAM global condition keys).

# MODEL_ID is in none of AWS's per-profile tables ("Supported Regions and models for inference
# profiles"), so a call through it reaches every Region its geography's profiles reach in
# those tables (the union; us. profiles are also called from and route to ca-central-1 and
# ca-west-1, eu. ones to il-central-1).
HARNESS_GEOGRAPHIES = {
    "us": ["ca-central-1", "ca-west-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2"],
    "eu": [
        "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
        "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1",
    ],
    "jp": ["ap-northeast-1", "ap-northeast-3"],
    "global": ["us-east-1", "eu-west-2", "ap-northeast-1"],
}  # fmt: skip
HARNESS_ACTIONS = {
    "bedrock:InvokeModel": "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
    "bedrock:Converse": "bedrock:InvokeModel",
    "bedrock:ConverseStream": "bedrock:InvokeModelWithResponseStream",
}
MODEL_ID = "anthropic.claude"
ROLE_PATHS = ["/", "/team/", "/aws-reserved/sso.amazonaws.com/"]
ROLE_NAMES = ["Admin", "WorkloadRole", "AWSReservedSSO_Admin_01", "AWSControlTowerExecution"]


@dataclass(frozen=True)
class GeneratedCall:
    account: str
    action: str
    region: str
    role_name: str
    role_path: str
    service_linked: bool
    as_session: bool
    give_path: bool
    geography: str | None


@st.composite
def generated_call(draw: st.DrawFn) -> GeneratedCall:
    account = draw(st.sampled_from([*ACCOUNTS * 4, MANAGEMENT]))
    geography = draw(st.sampled_from([None, None, "us", "eu", "jp", "global"]))
    action = draw(st.sampled_from(sorted(HARNESS_ACTIONS)))
    if geography is None:
        region = draw(st.sampled_from(REGIONS))
    else:
        region = draw(st.sampled_from(HARNESS_GEOGRAPHIES[geography]))
    service_linked = draw(st.sampled_from([False] * 9 + [True]))
    if service_linked:
        role_name, role_path = (
            "AWSServiceRoleForAmazonBedrock",
            "/aws-service-role/bedrock.amazonaws.com/",
        )
    else:
        role_name = draw(st.sampled_from(ROLE_NAMES))
        role_path = draw(st.sampled_from(ROLE_PATHS))
    return GeneratedCall(
        account, action, region, role_name, role_path, service_linked,
        as_session=draw(st.booleans()), give_path=draw(st.booleans()), geography=geography,
    )  # fmt: skip


def harness_legs(call: GeneratedCall) -> list[tuple[str, str, str | None]]:
    """(aws:RequestedRegion, resource, bedrock:InferenceProfileArn) of each authorization."""
    if call.geography is None:
        # The Region-less model is the resource of a Region-less (unspecified) request.
        where = "" if call.region == "unspecified" else call.region
        return [(call.region, f"arn:aws:bedrock:{where}::foundation-model/{MODEL_ID}", None)]
    profile = (
        f"arn:aws:bedrock:{call.region}:{call.account}:inference-profile/"
        f"{call.geography}.{MODEL_ID}"
    )
    out: list[tuple[str, str, str | None]] = [(call.region, profile, None)]
    if call.geography == "global":
        destinations = [call.region]
    else:
        destinations = [call.region] + [
            r for r in HARNESS_GEOGRAPHIES[call.geography] if r != call.region
        ]
    for region in destinations:
        out.append((region, f"arn:aws:bedrock:{region}::foundation-model/{MODEL_ID}", profile))
    if call.geography == "global":
        out.append(("unspecified", f"arn:aws:bedrock:::foundation-model/{MODEL_ID}", profile))
    return out


def harness_allows(oracle: Oracle, call: GeneratedCall, role_path: str) -> bool:
    principal = f"arn:aws:iam::{call.account}:role{role_path}{call.role_name}"
    action = HARNESS_ACTIONS[call.action]
    for region, resource, profile in harness_legs(call):
        context: dict[str, Any] = {
            "aws:RequestedRegion": region,
            "aws:PrincipalAccount": call.account,
            "aws:PrincipalArn": principal,
        }
        if profile is not None:
            context["bedrock:InferenceProfileArn"] = profile
        if not oracle.allows_context(call.account, action, resource, context):
            return False
    return True


@st.composite
def call_organization(draw: st.DrawFn) -> OrgTree:
    """An organization; half of them with a path-scoped exemption from a Bedrock deny on an OU."""
    org = draw(organization())
    if not draw(st.booleans()):
        return org
    pattern = draw(st.sampled_from(ARN_VALUES["aws:PrincipalArn"][-4:]))
    deny = Policy(
        "path-scoped",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "bedrock:*",
                        "Resource": "*",
                        "Condition": {"ArnNotLike": {"aws:PrincipalArn": pattern}},
                    }
                ],
            }
        ),
    )
    accounts = []
    for account in org.accounts:
        levels = tuple(
            OrgNode(n.kind, n.node_id, n.name, (*n.policies, deny)) if n.kind == "ou" else n
            for n in account.levels
        )
        accounts.append(AccountPath(account.account_id, account.name, levels))
    return OrgTree(tuple(accounts), org.management_account_id)


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(call_organization(), st.lists(generated_call(), min_size=10, max_size=20))
def agree_on_calls(
    evaluated: list[int], refused: list[int], org: OrgTree, calls: list[GeneratedCall]
) -> None:
    ours = Evaluator(org)
    theirs = Oracle(org)
    for call in calls:
        if call.as_session:
            arn = f"arn:aws:sts::{call.account}:assumed-role/{call.role_name}/session"
            role_path = call.role_path if call.give_path else None
        else:
            arn = f"arn:aws:iam::{call.account}:role{call.role_path}{call.role_name}"
            role_path = None
        profile = f"{call.geography}.{MODEL_ID}" if call.geography else None
        resource = "*" if profile else harness_legs(call)[0][1]
        request = build_request(
            call.account, call.action, call.region, principal_arn=arn, role_path=role_path,
            inference_profile=profile, resource=resource,
        )  # fmt: skip
        expected = harness_allows(theirs, call, call.role_path)
        try:
            decision = decide(ours, request)
        except RequestError:
            # Refused: the session hides a path the decision depends on. principalmapper
            # must then decide differently for some path.
            assert call.as_session and not call.give_path
            answers = {harness_allows(theirs, call, path) for path in [*ROLE_PATHS]}
            assert answers == {True, False}, (call, org)
            refused.append(1)
            continue
        assert decision.allowed == expected, (call, decision.decision.reason, org)
        evaluated.append(1)


def test_calls_agree_with_principalmapper_leg_by_leg_with_sessions_profiles_and_refusals() -> None:
    evaluated: list[int] = []
    refused: list[int] = []
    agree_on_calls(evaluated, refused)
    assert sum(evaluated) >= 1000
    assert sum(refused) >= 1
