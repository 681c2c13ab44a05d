"""Where principalmapper departs from the AWS documentation, pinned one case each.

Each test shows our decision (the documented one) and principalmapper's
different one. docs/scp-evaluation.md ("Disagreements with principalmapper")
quotes the AWS documentation that settles each case.
"""

from __future__ import annotations

import json
from typing import Any

from regionguard.evaluator import AccountPath, Evaluator, OrgNode, OrgTree, Policy, Request
from regionguard.oracle import Oracle

ACCOUNT = "222222222222"
FULL = Policy(
    "FullAWSAccess",
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
)


def both(statement: dict[str, Any], request: Request) -> tuple[str, str]:
    deny = Policy("p", json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    root = OrgNode("root", "r-root", "Root", (FULL,))
    ou = OrgNode("ou", "ou-1", "Workloads", (FULL, deny))
    account = OrgNode("account", ACCOUNT, "a", (FULL,))
    org = OrgTree((AccountPath(ACCOUNT, "a", (root, ou, account)),))
    ours = Evaluator(org).evaluate(request).effect
    theirs = "ALLOW" if Oracle(org).allows(request) else "DENY"
    return ours, theirs


def deny(condition: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": "Deny", "Action": "*", "Resource": "*", **fields}
    if condition:
        out["Condition"] = condition
    return out


def test_string_not_like_on_a_missing_key_holds() -> None:
    statement = deny({"StringNotLike": {"bedrock:InferenceProfileArn": "arn:*"}})
    request = Request(ACCOUNT, "bedrock:InvokeModel", "us-east-2")
    assert both(statement, request) == ("DENY", "ALLOW")


def test_for_any_value_with_a_negated_operator_tests_each_value() -> None:
    statement = deny({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team"]}})
    request = Request(
        ACCOUNT, "ec2:CreateTags", "us-east-1", context=(("aws:TagKeys", ("team", "cost")),)
    )
    assert both(statement, request) == ("DENY", "ALLOW")


def test_keys_of_a_for_any_value_block_are_anded() -> None:
    statement = deny(
        {
            "ForAnyValue:StringEquals": {
                "aws:TagKeys": ["team"],
                "aws:PrincipalTag/project": ["x"],
            }
        }
    )
    request = Request(ACCOUNT, "ec2:CreateTags", "us-east-1", context=(("aws:TagKeys", ("team",)),))
    assert both(statement, request) == ("ALLOW", "DENY")


def test_resource_patterns_are_case_sensitive() -> None:
    statement = deny(Resource="arn:aws:s3:::Bucket/*")
    request = Request(ACCOUNT, "s3:GetObject", "us-east-1", resource="arn:aws:s3:::bucket/key")
    assert both(statement, request) == ("ALLOW", "DENY")


def test_arn_like_wildcard_does_not_span_components() -> None:
    statement = deny({"ArnLike": {"aws:PrincipalArn": "arn:aws:*:role/Admin"}})
    request = Request(
        ACCOUNT, "ec2:RunInstances", "us-east-1", principal_arn=f"arn:aws:iam::{ACCOUNT}:role/Admin"
    )
    assert both(statement, request) == ("ALLOW", "DENY")


def test_arn_like_is_case_sensitive() -> None:
    statement = deny({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}})
    request = Request(
        ACCOUNT, "ec2:RunInstances", "us-east-1", principal_arn=f"arn:aws:iam::{ACCOUNT}:role/Admin"
    )
    assert both(statement, request) == ("ALLOW", "DENY")


def test_service_linked_role_is_known_by_its_path() -> None:
    request = Request(
        ACCOUNT,
        "ec2:RunInstances",
        "us-east-1",
        principal_arn=f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ops.amazonaws.com/OpsRole",
    )
    assert both(deny(), request) == ("ALLOW", "DENY")
