"""Differential test: our evaluator against principalmapper's on generated organizations.

The generator covers the grammar both evaluators implement the same way.
Constructs where principalmapper departs from the AWS documentation are left
out here and pinned, one test each, in test_evaluator_oracle_differences.py;
docs/scp-evaluation.md explains each with the AWS documentation that settles it.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regionguard.evaluator import AccountPath, Evaluator, OrgNode, OrgTree, Policy, Request
from regionguard.oracle import Oracle

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
    "aws:RequestedRegion": [*REGIONS, "us-*", "*-2", "us-east-?", "eu-*"],
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


EVALUATED: list[int] = []


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(organization(), st.lists(request(), min_size=15, max_size=25))
def test_evaluator_agrees_with_principalmapper(org: OrgTree, requests: list[Request]) -> None:
    ours = Evaluator(org)
    theirs = Oracle(org)
    for req in requests:
        decision = ours.evaluate(req)
        assert decision.allowed == theirs.allows(req), (req, decision.reason, org)
    EVALUATED.append(len(requests))


def test_differential_run_covered_thousands_of_requests() -> None:
    if not EVALUATED:
        test_evaluator_agrees_with_principalmapper()
    assert sum(EVALUATED) >= 3000
