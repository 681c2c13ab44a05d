from __future__ import annotations

import json
from typing import Any

import pytest

from regionguard.evaluator import (
    AccountPath,
    Evaluator,
    OrgNode,
    OrgTree,
    Policy,
    PolicyError,
    Request,
    compile_policy,
    matrix_delta,
)

ALLOWED = ["ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"]
PERMITTED = "111111111111"
OTHER = "222222222222"
MANAGEMENT = "999999999999"
FULL = Policy(
    "FullAWSAccess",
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


SEED = Policy(
    "bedrock-cross-region-inference",
    doc(
        {
            "Sid": "DenyBedrockInferenceExceptAllowRegionSpecificAccounts",
            "Effect": "Deny",
            "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {
                    "aws:RequestedRegion": ALLOWED,
                    "aws:PrincipalAccount": [PERMITTED],
                }
            },
        }
    ),
)
CONTROL = Policy(
    "aws-guardrails-abc",
    doc(
        {
            "Sid": "CTMULTISERVICEPV1",
            "Effect": "Deny",
            "NotAction": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "iam:*"],
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"aws:RequestedRegion": ALLOWED},
                "ArnNotLike": {
                    "aws:PrincipalARN": [
                        "arn:*:iam::*:role/AWSControlTowerExecution",
                        "arn:aws:iam::*:role/Breakglass",
                    ]
                },
            },
        }
    ),
)


def org(ou_policies: tuple[Policy, ...] = (FULL, SEED, CONTROL), **extra: Any) -> OrgTree:
    root = OrgNode("root", "r-root", "Root", (FULL,))
    ou = OrgNode("ou", "ou-work", "Workloads", ou_policies)
    accounts = tuple(
        AccountPath(a, name, (root, ou, OrgNode("account", a, name, (FULL,))))
        for a, name in ((PERMITTED, "ml"), (OTHER, "payments"))
    )
    return OrgTree(accounts, extra.get("management", MANAGEMENT))


def single(policy_doc: str, request: Request) -> str:
    """Effect of one policy attached to the OU next to FullAWSAccess."""
    return Evaluator(org((FULL, Policy("p", policy_doc)))).evaluate(request).effect


# ---------------------------------------------------------------- the seed's three rows


def test_allowed_region_is_allowed_for_any_account() -> None:
    decision = Evaluator(org()).evaluate(Request(OTHER, "bedrock:InvokeModel", "us-east-1"))
    assert decision.effect == "ALLOW"
    assert decision.basis == "allowed"


def test_permitted_account_is_allowed_outside_the_allowed_regions() -> None:
    decision = Evaluator(org()).evaluate(
        Request(PERMITTED, "bedrock:InvokeModelWithResponseStream", "us-east-2")
    )
    assert decision.effect == "ALLOW"
    assert decision.reason == (
        'Allowed: no Deny on the path the root (r-root) -> OU "Workloads" -> the account '
        "matches bedrock:InvokeModelWithResponseStream, and every level has an Allow. "
        'Statement "DenyBedrockInferenceExceptAllowRegionSpecificAccounts" of SCP '
        '"bedrock-cross-region-inference" attached to OU "Workloads" does not apply: '
        "aws:PrincipalAccount is one of [111111111111]."
    )


def test_other_account_outside_the_allowed_regions_is_denied_by_the_custom_scp() -> None:
    decision = Evaluator(org()).evaluate(
        Request(OTHER, "bedrock:InvokeModelWithResponseStream", "us-east-2")
    )
    assert decision.effect == "DENY"
    assert decision.basis == "explicit-deny"
    assert decision.statement is not None
    assert decision.statement.policy_name == "bedrock-cross-region-inference"
    assert decision.reason == (
        'Denied by statement "DenyBedrockInferenceExceptAllowRegionSpecificAccounts" of SCP '
        '"bedrock-cross-region-inference" attached to OU "Workloads": its Action covers '
        "bedrock:InvokeModelWithResponseStream; aws:RequestedRegion is not one of "
        "[ap-northeast-1, ap-northeast-3, us-east-1, eu-west-2]; aws:PrincipalAccount is "
        "not one of [111111111111]."
    )


def test_other_action_outside_the_allowed_regions_is_denied_by_the_control() -> None:
    decision = Evaluator(org()).evaluate(Request(PERMITTED, "ec2:RunInstances", "us-east-2"))
    assert decision.statement is not None
    assert (decision.effect, decision.statement.sid) == ("DENY", "CTMULTISERVICEPV1")
    assert decision.reason == (
        'Denied by statement "CTMULTISERVICEPV1" of SCP "aws-guardrails-abc" attached to OU '
        '"Workloads": ec2:RunInstances is not among its NotAction exceptions; '
        "aws:RequestedRegion is not one of [ap-northeast-1, ap-northeast-3, us-east-1, "
        "eu-west-2]; aws:PrincipalARN matches none of "
        "[arn:*:iam::*:role/AWSControlTowerExecution, arn:aws:iam::*:role/Breakglass]."
    )


def test_global_service_action_in_not_action_is_allowed_everywhere() -> None:
    decision = Evaluator(org()).evaluate(Request(OTHER, "iam:CreateRole", "us-east-2"))
    assert decision.effect == "ALLOW"


def test_global_inference_profile_region_unspecified_is_denied_for_other_accounts() -> None:
    ev = Evaluator(org())
    assert ev.evaluate(Request(OTHER, "bedrock:InvokeModel", "unspecified")).effect == "DENY"
    assert ev.evaluate(Request(PERMITTED, "bedrock:InvokeModel", "unspecified")).effect == "ALLOW"


# ---------------------------------------------------------------- the organization


def test_level_without_an_allow_denies() -> None:
    decision = Evaluator(org((SEED,))).evaluate(Request(OTHER, "s3:GetObject", "us-east-1"))
    assert decision.basis == "no-allow"
    assert decision.reason == (
        'Denied: no SCP attached to OU "Workloads" allows s3:GetObject (attached: '
        '"bedrock-cross-region-inference"); every level from the root to the account needs an '
        "Allow, normally FullAWSAccess."
    )


def test_allow_of_one_service_at_one_level_limits_the_account() -> None:
    only_s3 = Policy("OnlyS3", doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    ev = Evaluator(org((only_s3,)))
    assert ev.evaluate(Request(OTHER, "s3:GetObject", "us-east-1")).effect == "ALLOW"
    assert ev.evaluate(Request(OTHER, "ec2:RunInstances", "us-east-1")).effect == "DENY"


def test_explicit_deny_wins_over_allow_in_the_same_policy() -> None:
    both = doc(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ec2:*", "Resource": "*"},
    )
    assert single(both, Request(OTHER, "ec2:RunInstances", "us-east-1")) == "DENY"


def test_management_account_is_not_affected() -> None:
    tree = org()
    root = tree.accounts[0].levels[0]
    mgmt = AccountPath(MANAGEMENT, "management", (root, OrgNode("account", MANAGEMENT, "m", ())))
    ev = Evaluator(OrgTree((*tree.accounts, mgmt), MANAGEMENT))
    decision = ev.evaluate(Request(MANAGEMENT, "ec2:RunInstances", "us-east-2"))
    assert (decision.effect, decision.basis) == ("ALLOW", "management-account")


def test_service_linked_role_is_not_affected() -> None:
    slr = f"arn:aws:iam::{OTHER}:role/aws-service-role/bedrock.amazonaws.com/AWSServiceRoleForX"
    decision = Evaluator(org()).evaluate(
        Request(OTHER, "ec2:RunInstances", "us-east-2", principal_arn=slr)
    )
    assert (decision.effect, decision.basis) == ("ALLOW", "service-linked-role")


def test_a_session_arn_is_refused_as_aws_principal_arn() -> None:
    # aws:PrincipalArn of a role session is the role's ARN with its path, which the
    # session ARN does not show (IAM global condition keys, aws:PrincipalArn):
    # regionguard.request resolves sessions; the evaluator never guesses.
    session = f"arn:aws:sts::{OTHER}:assumed-role/Breakglass/alice"
    with pytest.raises(ValueError, match=r"resolve the session with regionguard\.request"):
        Request(OTHER, "ec2:RunInstances", "us-east-2", principal_arn=session)


def test_exempted_principal_escapes_the_control_by_its_role_arn() -> None:
    role = f"arn:aws:iam::{OTHER}:role/Breakglass"
    decision = Evaluator(org()).evaluate(
        Request(OTHER, "ec2:RunInstances", "us-east-2", principal_arn=role)
    )
    assert decision.effect == "ALLOW"


# ---------------------------------------------------------------- Action and Resource


@pytest.mark.parametrize(
    ("pattern", "action", "effect"),
    [
        ("bedrock:InvokeModel", "BEDROCK:invokemodel", "DENY"),
        ("bedrock:Invoke*", "bedrock:InvokeModelWithResponseStream", "DENY"),
        ("bedrock:Invoke?odel", "bedrock:InvokeModel", "DENY"),
        ("bedrock:Invoke?odel", "bedrock:InvokeModelWithResponseStream", "ALLOW"),
        ("*", "ec2:RunInstances", "DENY"),
        ("ec2:*", "bedrock:InvokeModel", "ALLOW"),
    ],
)
def test_action_patterns_match_case_insensitively_with_wildcards(
    pattern: str, action: str, effect: str
) -> None:
    policy = doc({"Effect": "Deny", "Action": pattern, "Resource": "*"})
    assert single(policy, Request(OTHER, action, "us-east-1")) == effect


def test_not_action_denies_every_other_action() -> None:
    policy = doc({"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*"})
    assert single(policy, Request(OTHER, "IAM:CreateRole", "us-east-1")) == "ALLOW"
    assert single(policy, Request(OTHER, "ec2:RunInstances", "us-east-1")) == "DENY"


MODEL = "arn:aws:bedrock:us-east-2::foundation-model/m"
MODELS = "arn:aws:bedrock:*::foundation-model/*"


@pytest.mark.parametrize(
    ("field", "pattern", "resource", "effect"),
    [
        ("Resource", MODELS, MODEL, "DENY"),
        ("Resource", MODELS, MODEL.replace("foundation-model", "inference-profile"), "ALLOW"),
        ("Resource", "arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/key", "ALLOW"),
        ("NotResource", "arn:aws:s3:::logs/*", "arn:aws:s3:::logs/a", "ALLOW"),
        ("NotResource", "arn:aws:s3:::logs/*", "arn:aws:s3:::data/a", "DENY"),
    ],
)
def test_resource_patterns_match_case_sensitively(
    field: str, pattern: str, resource: str, effect: str
) -> None:
    policy = doc({"Effect": "Deny", "Action": "*", field: pattern})
    assert single(policy, Request(OTHER, "s3:GetObject", "us-east-1", resource=resource)) == effect


# ---------------------------------------------------------------- conditions

PROFILE = "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude"


def deny_if(operator: str, key: str, values: Any) -> str:
    return doc(
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {operator: {key: values}}}
    )


@pytest.mark.parametrize(
    ("operator", "values", "profile", "effect"),
    [
        ("StringNotEquals", ["x"], None, "DENY"),
        ("StringNotLike", ["x*"], None, "DENY"),
        ("ArnNotLike", ["arn:aws:bedrock:*:*:inference-profile/*"], None, "DENY"),
        ("ArnNotEquals", ["arn:aws:bedrock:*:*:inference-profile/*"], None, "DENY"),
        ("StringEquals", ["x"], None, "ALLOW"),
        ("StringLike", ["*"], None, "ALLOW"),
        ("ArnLike", ["arn:*"], None, "ALLOW"),
        ("StringEqualsIfExists", ["x"], None, "DENY"),
        ("ArnNotLikeIfExists", ["arn:*"], None, "DENY"),
        ("ArnNotLikeIfExists", ["arn:aws:bedrock:*:*:inference-profile/*"], PROFILE, "ALLOW"),
        ("ArnNotLike", ["arn:aws:bedrock:*:*:inference-profile/*"], PROFILE, "ALLOW"),
        ("Null", "true", None, "DENY"),
        ("Null", "true", PROFILE, "ALLOW"),
        ("Null", "false", PROFILE, "DENY"),
        ("Null", "false", None, "ALLOW"),
        ("ForAllValues:StringEquals", ["x"], None, "DENY"),
        ("ForAnyValue:StringEquals", ["x"], None, "ALLOW"),
        ("ForAnyValue:StringNotEquals", ["x"], None, "ALLOW"),
        ("ForAnyValue:StringEqualsIfExists", ["x"], None, "DENY"),
    ],
)
def test_condition_on_a_key_missing_or_present(
    operator: str, values: Any, profile: str | None, effect: str
) -> None:
    policy = deny_if(operator, "bedrock:InferenceProfileArn", values)
    request = Request(OTHER, "bedrock:InvokeModel", "us-east-2", inference_profile_arn=profile)
    assert single(policy, request) == effect


@pytest.mark.parametrize(
    ("operator", "values", "effect"),
    [
        ("StringEquals", ["US-EAST-2"], "ALLOW"),
        ("StringEqualsIgnoreCase", ["US-EAST-2"], "DENY"),
        ("StringNotEqualsIgnoreCase", ["US-EAST-2"], "ALLOW"),
        ("StringLike", ["us-*-2"], "DENY"),
        ("StringLike", ["us-east-?"], "DENY"),
        ("StringLike", ["US-*"], "ALLOW"),
        ("StringNotLike", ["eu-*", "ap-*"], "DENY"),
        ("StringEquals", "us-east-2", "DENY"),
    ],
)
def test_string_operators_on_the_requested_region(operator: str, values: Any, effect: str) -> None:
    request = Request(OTHER, "ec2:RunInstances", "us-east-2")
    assert single(deny_if(operator, "aws:RequestedRegion", values), request) == effect


@pytest.mark.parametrize(
    ("pattern", "effect"),
    [
        ("arn:aws:iam::*:role/Admin", "DENY"),
        ("arn:aws:iam::222222222222:role/Adm?n", "DENY"),
        ("arn:aws:*:role/Admin", "ALLOW"),
        ("arn:aws:iam::*:role/admin", "ALLOW"),
    ],
)
def test_arn_like_matches_each_of_the_six_components(pattern: str, effect: str) -> None:
    request = Request(
        OTHER, "ec2:RunInstances", "us-east-2", principal_arn=f"arn:aws:iam::{OTHER}:role/Admin"
    )
    assert single(deny_if("ArnLike", "aws:PrincipalARN", [pattern]), request) == effect


def test_string_like_wildcard_crosses_colons_where_arn_like_does_not() -> None:
    request = Request(
        OTHER, "ec2:RunInstances", "us-east-2", principal_arn=f"arn:aws:iam::{OTHER}:role/Admin"
    )
    policy = deny_if("StringLike", "aws:PrincipalARN", ["arn:aws:*:role/Admin"])
    assert single(policy, request) == "DENY"


TAGS = (("aws:TagKeys", ("team", "cost")),)


@pytest.mark.parametrize(
    ("operator", "values", "effect"),
    [
        ("ForAllValues:StringEquals", ["team", "cost", "env"], "DENY"),
        ("ForAllValues:StringEquals", ["team"], "ALLOW"),
        ("ForAnyValue:StringEquals", ["cost"], "DENY"),
        ("ForAnyValue:StringEquals", ["env"], "ALLOW"),
        ("ForAllValues:StringNotEquals", ["env"], "DENY"),
        ("ForAllValues:StringNotEquals", ["team"], "ALLOW"),
        ("ForAnyValue:StringNotEquals", ["team"], "DENY"),
        ("ForAnyValue:StringNotEquals", ["team", "cost"], "ALLOW"),
        ("ForAnyValue:StringLike", ["c*"], "DENY"),
    ],
)
def test_set_operators_on_a_multivalued_key(operator: str, values: list[str], effect: str) -> None:
    request = Request(OTHER, "ec2:CreateTags", "us-east-1", context=TAGS)
    assert single(deny_if(operator, "aws:TagKeys", values), request) == effect


def test_condition_keys_are_case_insensitive() -> None:
    request = Request(OTHER, "ec2:RunInstances", "us-east-2")
    assert single(deny_if("StringEquals", "AWS:REQUESTEDREGION", ["us-east-2"]), request) == "DENY"


def test_bool_operator_compares_true_and_false() -> None:
    context = (("aws:SecureTransport", ("false",)),)
    request = Request(OTHER, "s3:GetObject", "us-east-1", context=context)
    assert single(deny_if("Bool", "aws:SecureTransport", False), request) == "DENY"
    assert single(deny_if("Bool", "aws:SecureTransport", "true"), request) == "ALLOW"


def test_keys_within_one_operator_are_anded_and_values_ored() -> None:
    policy = doc(
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "aws:RequestedRegion": ["us-east-2", "us-west-2"],
                    "aws:PrincipalAccount": [OTHER],
                }
            },
        }
    )
    assert single(policy, Request(OTHER, "s3:GetObject", "us-west-2")) == "DENY"
    assert single(policy, Request(PERMITTED, "s3:GetObject", "us-west-2")) == "ALLOW"


# ---------------------------------------------------------------- grammar the evaluator refuses


ANY: dict[str, Any] = {"Effect": "Deny", "Action": "*", "Resource": "*"}


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            {**ANY, "Condition": {"NumericLessThan": {"k": "1"}}},
            "condition operator 'NumericLessThan' is not supported",
        ),
        ({**ANY, "Principal": "*"}, "may not use Principal"),
        ({**ANY, "Effect": "Maybe"}, "Effect must be Allow or Deny"),
        ({**ANY, "NotAction": "x:y"}, "exactly one of Action and NotAction"),
        ({**ANY, "Resource": "arn:aws:s3:::${aws:username}"}, "policy variables"),
    ],
)
def test_policy_the_evaluator_cannot_evaluate_is_refused(
    statement: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError, match=r'SCP "p": statement #1: ') as info:
        compile_policy(Policy("p", doc(statement)))
    assert message in str(info.value)


def test_invalid_json_is_refused_with_the_policy_name() -> None:
    with pytest.raises(PolicyError, match='SCP "broken": not JSON'):
        compile_policy(Policy("broken", "{"))


# ---------------------------------------------------------------- matrix


def test_matrix_agrees_with_evaluating_each_request() -> None:
    ev = Evaluator(org())
    regions = ["us-east-1", "us-east-2", "unspecified", "eu-west-2"]
    actions = ["bedrock:InvokeModel", "ec2:RunInstances", "iam:CreateRole"]
    matrix = ev.matrix([PERMITTED, OTHER], regions, actions)
    fresh = Evaluator(org())
    for cell in matrix.cells():
        expected = fresh.evaluate(Request(cell.account_id, cell.action, cell.region))
        assert cell.decision == expected, cell


def test_matrix_delta_lists_exactly_the_cells_that_change() -> None:
    regions, actions = ["us-east-1", "us-east-2"], ["bedrock:InvokeModel"]
    before = Evaluator(org()).matrix([PERMITTED, OTHER], regions, actions)
    widened = Policy(
        SEED.name, SEED.document.replace(f'["{PERMITTED}"]', f'["{PERMITTED}", "{OTHER}"]')
    )
    after = Evaluator(org((FULL, widened, CONTROL))).matrix([PERMITTED, OTHER], regions, actions)
    changes = matrix_delta(before, after)
    assert [(c.account_id, c.region, c.action, c.before, c.after) for c in changes] == [
        (OTHER, "us-east-2", "bedrock:InvokeModel", "DENY", "ALLOW")
    ]
