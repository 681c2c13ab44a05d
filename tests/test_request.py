"""The request model against AWS's documented behaviour, one case per row.

Each case names the AWS page that settles its expected answer (docs/scp-evaluation.md
quotes them). The organization is envs/local's, rendered as Terraform sends it:
allowed Regions ap-northeast-1, ap-northeast-3, us-east-1, eu-west-2; ml-platform
(100000000001) and research (100000000003) permitted; payments (100000000002) not.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from regionguard import deployment as dep
from regionguard import iamref
from regionguard.controlscp import render_control_scp
from regionguard.deployment import known_first_tier
from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.evaluator import AccountPath, Evaluator, OrgNode, OrgTree, Policy
from regionguard.orgmodel import FULL_AWS_ACCESS, scenario_from_deployment
from regionguard.render import render_control_parameters, render_scp
from regionguard.request import (
    Action,
    RequestError,
    build_request,
    decide,
    destinations,
    legs,
    load_profile_data,
    parse_principal,
    profile_operations,
    resolve_action,
    resolve_region,
    runtime_operations,
)

ENV = Path(__file__).resolve().parent.parent / "envs" / "local"
ML, PAYMENTS = "100000000001", "100000000002"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
US = f"us.{MODEL}"
STREAM = "bedrock:InvokeModelWithResponseStream"
INVOKE = "bedrock:InvokeModel"
SEED_SID = "DenyBedrockInferenceExceptAllowRegionSpecificAccounts"

# The AWS pages behind the expected answers.
GEO = (
    "Geographic cross-Region inference: "
    "https://docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html"
)
GLOBAL = (
    "Global cross-Region inference: "
    "https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html"
)
SUPPORT = (
    "Supported Regions and models for inference profiles: "
    "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html"
)
BLOG = (
    "Enable Amazon Bedrock cross-Region inference in multi-account environments: "
    "https://aws.amazon.com/blogs/machine-learning/"
    "enable-amazon-bedrock-cross-region-inference-in-multi-account-environments/"
)
CONVERSE = (
    "Carry out a conversation with the Converse API operations: "
    "https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-call.html"
)
BEDROCK_ACTIONS = (
    "Actions, resources, and condition keys for Amazon Bedrock: "
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html"
)
ACTION_ELEMENT = (
    "IAM JSON policy elements: Action: "
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html"
)
PRINCIPAL_ARN = (
    "AWS global condition context keys, aws:PrincipalArn: https://docs.aws.amazon.com/IAM/"
    "latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn"
)
REQUESTED_REGION = (
    "AWS global condition context keys, aws:RequestedRegion: https://docs.aws.amazon.com/IAM/"
    "latest/UserGuide/reference_policies_condition-keys.html#condition-keys-requestedregion"
)
IDENTIFIERS = (
    "IAM identifiers: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html"
)
SCPS = (
    "Service control policies (SCPs): "
    "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html"
)
SLR = (
    "Using service-linked roles: "
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html"
)
SSO_PATH = (
    "IAM Identity Center, referencing permission sets "
    "(roles under /aws-reserved/sso.amazonaws.com/): "
    "https://docs.aws.amazon.com/singlesignon/latest/userguide/referencingpermissionsets.html"
)
PARTITIONS = (
    "AWS partitions: https://docs.aws.amazon.com/whitepapers/latest/"
    "aws-fault-isolation-boundaries/partitions.html"
)
ACCESS_DENIED = (
    "Troubleshoot access denied error messages: "
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html"
)


def local_org(*, landing_zone_deny: bool = False, **changes: Any) -> Evaluator:
    env = Environment(ENV, datetime.date(2026, 11, 30))
    settings = dataclasses.replace(env.settings, **changes)
    scps = (dep.ScpDoc(settings.scp_name, render_scp(settings, env.deployed_ids)),)
    raw = render_control_parameters(settings)
    deployment = dep.Deployment(
        "test",
        tuple(
            dep.OuDeployment(ou, scps, dep.control_values(raw), raw) for ou in known_first_tier(env)
        ),
    )
    scenario = scenario_from_deployment(env, deployment, landing_zone_deny=landing_zone_deny)
    return Evaluator(scenario.org)


@pytest.fixture(scope="module")
def local() -> Evaluator:
    return local_org()


# ---------------------------------------------------------------- 1. the whole cross-Region call

# (account, action, source Region, profile, effect, first denied leg (region, resource), page)
CALLS = [
    pytest.param(
        PAYMENTS, STREAM, "us-east-1", US, "DENY",
        ("us-east-2", f"arn:aws:bedrock:us-east-2::foundation-model/{MODEL}"), GEO,
        id="us-profile-from-an-allowed-region-is-denied-where-it-routes-to-us-east-2",
    ),
    pytest.param(
        PAYMENTS, STREAM, "us-east-1", None, "ALLOW", None, REQUESTED_REGION,
        id="the-same-account-calling-the-model-directly-in-us-east-1-is-allowed",
    ),
    pytest.param(
        ML, STREAM, "us-east-1", US, "ALLOW", None, BLOG,
        id="a-permitted-account-is-allowed-on-every-leg",
    ),
    pytest.param(
        ML, INVOKE, "us-west-2", US, "ALLOW", None, BLOG,
        id="a-permitted-account-calls-the-us-profile-from-a-region-outside-the-allowed-ones",
    ),
    pytest.param(
        PAYMENTS, INVOKE, "us-east-2", US, "DENY",
        ("us-east-2", f"arn:aws:bedrock:us-east-2:{PAYMENTS}:inference-profile/{US}"), GEO,
        id="from-a-denied-source-region-the-profile-leg-itself-is-denied",
    ),
    pytest.param(
        PAYMENTS, INVOKE, "eu-west-2", f"eu.{MODEL}", "DENY",
        ("eu-central-1", f"arn:aws:bedrock:eu-central-1::foundation-model/{MODEL}"), GEO,
        id="eu-profile-from-allowed-london-is-denied-in-frankfurt",
    ),
    pytest.param(
        PAYMENTS, INVOKE, "ap-northeast-1", f"jp.{MODEL}", "ALLOW", None, SUPPORT,
        id="jp-profile-stays-in-tokyo-and-osaka-both-allowed",
    ),
    pytest.param(
        PAYMENTS, INVOKE, "ap-northeast-3", f"apac.{MODEL}", "DENY",
        ("ap-east-2", f"arn:aws:bedrock:ap-east-2::foundation-model/{MODEL}"), SUPPORT,
        id="apac-profile-reaches-regions-outside-the-allowed-ones",
    ),
    pytest.param(
        PAYMENTS, INVOKE, "ap-southeast-2", f"au.{MODEL}", "DENY",
        ("ap-southeast-2",
         f"arn:aws:bedrock:ap-southeast-2:{PAYMENTS}:inference-profile/au.{MODEL}"),
        GEO,
        id="au-profile-from-sydney-is-denied-at-the-source",
    ),
    pytest.param(
        PAYMENTS, INVOKE, "us-east-1", f"global.{MODEL}", "DENY",
        ("unspecified", f"arn:aws:bedrock:::foundation-model/{MODEL}"), GLOBAL,
        id="global-profile-is-denied-on-its-unspecified-region-leg",
    ),
    pytest.param(
        ML, STREAM, "eu-west-2", f"global.{MODEL}", "ALLOW", None, GLOBAL,
        id="global-profile-by-a-permitted-account-is-allowed",
    ),
    pytest.param(
        ML, "bedrock:Converse", "us-east-1", US, "ALLOW", None, CONVERSE,
        id="converse-through-a-us-profile-by-a-permitted-account",
    ),
    pytest.param(
        PAYMENTS, "bedrock:ConverseStream", "us-east-1", US, "DENY",
        ("us-east-2", f"arn:aws:bedrock:us-east-2::foundation-model/{MODEL}"), CONVERSE,
        id="converse-stream-through-a-us-profile-is-denied-as-invoke-with-response-stream",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("account", "action", "region", "profile", "effect", "leg", "page"), CALLS)
def test_a_call_is_allowed_only_when_every_leg_is(
    local: Evaluator,
    account: str,
    action: str,
    region: str,
    profile: str | None,
    effect: str,
    leg: tuple[str, str] | None,
    page: str,
) -> None:
    assert page
    decision = decide(local, build_request(account, action, region, inference_profile=profile))
    assert decision.effect == effect
    denied = decision.denied
    assert ((denied.leg.region, denied.leg.resource) if denied else None) == leg


def test_the_legs_of_a_us_profile_call_are_the_profile_and_the_model_in_each_destination() -> None:
    # GEO: "access to ... the geography-specific cross-Region inference profile, the
    # foundation model in the source Region, the foundation model in all destination Regions";
    # SUPPORT: US Anthropic Claude Sonnet 4.5 from us-east-1 routes to us-east-1, us-east-2,
    # us-west-2 (not us-west-1).
    profile_arn = f"arn:aws:bedrock:us-east-1:{PAYMENTS}:inference-profile/{US}"
    request = build_request(PAYMENTS, INVOKE, "us-east-1", inference_profile=US)
    shown = [
        (leg.kind, leg.region, leg.resource, leg.inference_profile_arn) for leg in legs(request)
    ]
    assert shown == [
        ("profile", "us-east-1", profile_arn, None),
        ("model", "us-east-1", f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}", profile_arn),
        ("model", "us-east-2", f"arn:aws:bedrock:us-east-2::foundation-model/{MODEL}", profile_arn),
        ("model", "us-west-2", f"arn:aws:bedrock:us-west-2::foundation-model/{MODEL}", profile_arn),
    ]  # fmt: skip
    reach = destinations(request.profile, "us-east-1")  # type: ignore[arg-type]
    assert (reach.basis, reach.regions) == (
        "profile-table",
        ("us-east-1", "us-east-2", "us-west-2"),
    )


# SUPPORT, "US Anthropic Claude Sonnet 4.5": each source Region's destination Regions.
SONNET_45_ROUTES = [
    pytest.param("us-west-1", ["us-west-1", "us-east-1", "us-east-2", "us-west-2"], id="us-west-1"),
    pytest.param("ca-central-1", ["ca-central-1", "us-east-1", "us-east-2", "us-west-2"],
                 id="ca-central-1"),
    pytest.param("us-east-2", ["us-east-2", "us-east-1", "us-west-2"], id="us-east-2"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "regions"), SONNET_45_ROUTES)
def test_a_profile_call_reaches_the_destinations_aws_lists_for_its_source(
    source: str, regions: list[str]
) -> None:
    request = build_request(PAYMENTS, INVOKE, source, inference_profile=US)
    assert [leg.region for leg in legs(request)[1:]] == regions


def test_a_us_sonnet_45_call_is_allowed_where_all_the_destinations_aws_lists_are() -> None:
    # SUPPORT: the profile never routes to us-west-1, so with us-east-1, us-east-2 and
    # us-west-2 allowed an account that is not permitted may call it from us-east-1.
    evaluator = local_org(allowed_regions=("us-east-1", "us-east-2", "us-west-2"))
    request = build_request(PAYMENTS, INVOKE, "us-east-1", inference_profile=US)
    assert decide(evaluator, request).effect == "ALLOW"


def test_a_profile_missing_from_the_table_is_judged_on_every_region_of_its_geography() -> None:
    # The union is the fallback; the answer says it was assumed.
    profile = "us.example.model-v1:0"
    request = build_request(PAYMENTS, INVOKE, "us-east-1", inference_profile=profile)
    assert [leg.region for leg in legs(request)[1:]] == [
        "us-east-1", "ca-central-1", "ca-west-1", "us-east-2", "us-west-1", "us-west-2",
    ]  # fmt: skip
    reach = destinations(request.profile, "us-east-1")  # type: ignore[arg-type]
    assert reach.basis == "geography-union"
    assert "the profile is not in AWS's table, so every Region of its geography is assumed" in (
        reach.describe()
    )
    evaluator = local_org(allowed_regions=("us-east-1", "us-east-2", "us-west-2"))
    decision = decide(evaluator, request)
    assert (decision.effect, decision.denied.leg.region) == ("DENY", "ca-central-1")  # type: ignore[union-attr]


def test_the_legs_of_a_global_profile_call_end_with_the_regionless_model() -> None:
    # GLOBAL: the global foundation model ARN has no Region; its aws:RequestedRegion is
    # "unspecified".
    profile_arn = f"arn:aws:bedrock:eu-west-2:{ML}:inference-profile/global.{MODEL}"
    request = build_request(ML, INVOKE, "eu-west-2", inference_profile=f"global.{MODEL}")
    assert [(leg.kind, leg.region, leg.resource) for leg in legs(request)] == [
        ("profile", "eu-west-2", profile_arn),
        ("model", "eu-west-2", f"arn:aws:bedrock:eu-west-2::foundation-model/{MODEL}"),
        ("global-model", "unspecified", f"arn:aws:bedrock:::foundation-model/{MODEL}"),
    ]


def test_global_inference_none_denies_even_a_permitted_account_on_the_unspecified_leg() -> None:
    # GLOBAL + SCPS: a Deny on aws:RequestedRegion = unspecified blocks global profiles.
    evaluator = local_org(global_inference="none")
    decision = decide(
        evaluator, build_request(ML, INVOKE, "us-east-1", inference_profile=f"global.{MODEL}")
    )
    assert decision.effect == "DENY"
    assert decision.denied is not None
    assert decision.denied.leg.region == "unspecified"
    assert decision.decision.statement is not None
    assert decision.decision.statement.sid == "DenyGlobalInferenceProfiles"


def test_require_inference_profile_denies_the_direct_call_and_allows_the_profile_call() -> None:
    # GEO + BLOG: bedrock:InferenceProfileArn is set when the model is evaluated as part
    # of a profile call, absent on a direct call.
    evaluator = local_org(require_inference_profile=True)
    direct = decide(evaluator, build_request(ML, INVOKE, "us-east-2"))
    through = decide(evaluator, build_request(ML, INVOKE, "us-east-1", inference_profile=US))
    assert (direct.effect, through.effect) == ("DENY", "ALLOW")


def test_before_the_migration_the_landing_zone_deny_fails_a_permitted_account_as_in_the_seed() -> (
    None
):
    # BLOG: the Region deny stops the call in the destination Region; ACCESS_DENIED: words.
    evaluator = local_org(landing_zone_deny=True)
    session = f"arn:aws:sts::{ML}:assumed-role/AmazonSageMakerBedrockModelConsumptionRole-xxxx/xxxx"
    request = build_request(
        ML, STREAM, "us-east-1", principal_arn=session, role_path="/", inference_profile=US
    )
    decision = decide(evaluator, request)
    assert decision.access_denied_message() == (
        f"User: {session} is not authorized to perform: {STREAM} on resource: "
        f"arn:aws:bedrock:us-east-2::foundation-model/{MODEL} with an explicit deny in a "
        "service control policy"
    )
    assert decision.decision.statement is not None
    assert decision.decision.statement.policy_name == "aws-guardrails-landing-zone-region-deny"


# ---------------------------------------------------------------- 2. API operations and actions

ACTIONS = [
    pytest.param("bedrock:Converse", INVOKE, CONVERSE, id="converse-is-invoke-model"),
    pytest.param("bedrock:ConverseStream", STREAM, CONVERSE, id="converse-stream-is-invoke-stream"),
    pytest.param("BEDROCK:converse", INVOKE, ACTION_ELEMENT, id="operation-names-ignore-case"),
    pytest.param("bedrock:invokemodel", INVOKE, ACTION_ELEMENT, id="action-names-ignore-case"),
    pytest.param("ec2:runinstances", "ec2:RunInstances", ACTION_ELEMENT, id="other-services-too"),
]


@pytest.mark.parametrize(("text", "iam_action", "page"), ACTIONS)
def test_api_operations_and_spellings_map_to_the_iam_action(
    text: str, iam_action: str, page: str
) -> None:
    assert page
    assert resolve_action(text).iam_action == iam_action


# Each Bedrock Runtime operation (Amazon Bedrock API Reference, "Amazon Bedrock Runtime"
# actions, https://docs.aws.amazon.com/bedrock/latest/APIReference/
# API_Operations_Amazon_Bedrock_Runtime.html) and the IAM action AWS authorizes it as: the
# action its API page names ("This operation requires permission for the ... action"), else
# the action of the same name in BEDROCK_ACTIONS.
RUNTIME = {
    "ApplyGuardrail": "bedrock:ApplyGuardrail",
    "Converse": INVOKE,
    "ConverseStream": STREAM,
    "CountTokens": "bedrock:CountTokens",
    "GetAsyncInvoke": "bedrock:GetAsyncInvoke",
    "InvokeGuardrailChecks": "bedrock:InvokeGuardrailChecks",
    "InvokeModel": INVOKE,
    "InvokeModelWithBidirectionalStream": INVOKE,
    "InvokeModelWithResponseStream": STREAM,
    "ListAsyncInvokes": "bedrock:ListAsyncInvokes",
    "StartAsyncInvoke": INVOKE,
}


def test_every_runtime_operation_maps_to_the_action_its_page_names() -> None:
    operations = runtime_operations()
    assert {o.name.removeprefix("bedrock:"): o.iam_action for o in operations.values()} == RUNTIME
    for operation in operations.values():
        short = operation.name.removeprefix("bedrock:")
        assert operation.page == (
            f"https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_{short}.html"
        )
        assert resolve_action(operation.name) == Action(
            operation.name, operation.iam_action, operation
        )
        if operation.iam_action != operation.name:
            assert operation.evidence == (
                f"This operation requires permission for the {operation.iam_action} action."
            )


def test_each_operation_names_a_resource_type_its_action_is_authorized_on() -> None:
    for operation in runtime_operations().values():
        types = [t for t, _ in iamref.resource_arn_templates(operation.iam_action)]
        if operation.resource_type is None:
            assert types == [], operation.name
        else:
            assert operation.resource_type in types, operation.name


def test_only_the_operations_aws_lists_take_an_inference_profile() -> None:
    # "Use an inference profile in model invocation":
    # https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-use.html
    assert sorted(o.name for o in profile_operations()) == [
        "bedrock:Converse", "bedrock:ConverseStream", "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
    ]  # fmt: skip
    with pytest.raises(RequestError, match="bedrock:StartAsyncInvoke does not run through"):
        build_request(PAYMENTS, "bedrock:StartAsyncInvoke", "us-east-1", inference_profile=US)


BAD_ACTIONS = [
    pytest.param(
        "bedrock:InvokeModels",
        "action 'bedrock:InvokeModels': not an action of bedrock in the IAM reference data",
        "did you mean bedrock:InvokeModel",
        BEDROCK_ACTIONS,
        id="a-typo-is-not-an-action",
    ),
    pytest.param(
        "bedrock:Invoke*",
        "action 'bedrock:Invoke*': a request has one concrete action, not a pattern",
        "name one action",
        ACTION_ELEMENT,
        id="a-wildcard-is-a-pattern-not-a-request",
    ),
    pytest.param(
        "*", "action '*': write it as service:Action", "bedrock:InvokeModel", ACTION_ELEMENT,
        id="star-alone",
    ),
    pytest.param(
        "bedrok:InvokeModel",
        "action 'bedrok:InvokeModel': 'bedrok' is not a service prefix",
        "did you mean bedrock",
        BEDROCK_ACTIONS,
        id="a-misspelt-service",
    ),
    pytest.param(
        "InvokeModel", "action 'InvokeModel': write it as service:Action", "", ACTION_ELEMENT,
        id="no-service-prefix",
    ),
    pytest.param(
        "bedrock:Conversation",
        "action 'bedrock:Conversation': not an action of bedrock",
        "did you mean",
        CONVERSE,
        id="an-unknown-operation",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("text", "starts", "contains", "page"), BAD_ACTIONS)
def test_an_action_that_is_no_request_is_an_input_error(
    text: str, starts: str, contains: str, page: str
) -> None:
    assert page
    with pytest.raises(RequestError) as info:
        resolve_action(text)
    assert str(info.value).startswith(starts)
    assert contains in str(info.value)
    assert info.value.exit_code == 2


def test_converse_by_a_permitted_account_outside_the_allowed_regions_is_allowed(
    local: Evaluator,
) -> None:
    # CONVERSE: Converse needs bedrock:InvokeModel, which the SCP lets the permitted account do.
    decision = decide(local, build_request(ML, "bedrock:Converse", "us-east-2"))
    assert (decision.effect, decision.call.action) == ("ALLOW", INVOKE)


def test_converse_by_another_account_outside_the_allowed_regions_is_denied_by_the_scp(
    local: Evaluator,
) -> None:
    decision = decide(local, build_request(PAYMENTS, "bedrock:Converse", "us-east-2"))
    assert decision.effect == "DENY"
    assert decision.decision.statement is not None
    assert decision.decision.statement.sid == SEED_SID


# ---------------------------------------------------------------- 3. principals

SSO_EXEMPTION = "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_*"
SSO_ROLE = "AWSReservedSSO_Admin_0123456789abcdef"
SSO_SESSION = f"arn:aws:sts::{PAYMENTS}:assumed-role/{SSO_ROLE}/alice@example.com"
SSO_ROLE_ARN = f"arn:aws:iam::{PAYMENTS}:role/aws-reserved/sso.amazonaws.com/{SSO_ROLE}"


def control_org(exempted: tuple[str, ...]) -> Evaluator:
    control = Policy("aws-guardrails-x", render_control_scp(["us-east-1"], [], list(exempted)))
    root = OrgNode("root", "r-root", "Root", (FULL_AWS_ACCESS,))
    ou = OrgNode("ou", "ou-1", "Workloads", (FULL_AWS_ACCESS, control))
    account = OrgNode("account", PAYMENTS, "payments", (FULL_AWS_ACCESS,))
    return Evaluator(OrgTree((AccountPath(PAYMENTS, "payments", (root, ou, account)),)))


PRINCIPALS = [
    pytest.param(SSO_ROLE_ARN, None, (SSO_EXEMPTION,), "ALLOW", PRINCIPAL_ARN,
                 id="a-role-arn-keeps-its-path-and-matches-the-path-scoped-exemption"),
    pytest.param(SSO_SESSION, "/aws-reserved/sso.amazonaws.com/", (SSO_EXEMPTION,), "ALLOW",
                 SSO_PATH, id="a-session-with-its-role-path-matches-the-exemption"),
    pytest.param(f"arn:aws:iam::{PAYMENTS}:role/{SSO_ROLE}", None, (SSO_EXEMPTION,), "DENY",
                 IDENTIFIERS, id="the-same-name-without-the-path-is-another-role"),
    pytest.param(SSO_SESSION, "/", (SSO_EXEMPTION,), "DENY", IDENTIFIERS,
                 id="a-session-of-a-role-at-the-root-path-is-not-exempted"),
    pytest.param(SSO_SESSION, None, (), "DENY", PRINCIPAL_ARN,
                 id="without-a-path-scoped-exemption-the-path-does-not-matter"),
    pytest.param(f"arn:aws:sts::{PAYMENTS}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
                 None, (), "ALLOW", SCPS, id="a-service-linked-role-session-is-not-affected"),
    pytest.param(f"arn:aws:iam::{PAYMENTS}:role/aws-service-role/autoscaling.amazonaws.com/"
                 "AWSServiceRoleForAutoScaling", None, (), "ALLOW", SLR,
                 id="a-service-linked-role-arn-is-not-affected"),
    pytest.param(f"arn:aws:sts::{PAYMENTS}:assumed-role/AWSServiceRoleForX/s", "/", (), "DENY",
                 SLR, id="a-role-so-named-at-another-path-is-not-service-linked"),
    pytest.param(f"arn:aws:iam::{PAYMENTS}:user/ops/bob", None, ("arn:aws:iam::*:user/ops/*",),
                 "ALLOW", PRINCIPAL_ARN, id="a-user-arn-is-its-own-principal-arn"),
    pytest.param(f"arn:aws:sts::{PAYMENTS}:assumed-role/AWSControlTowerExecution/s", "/", (),
                 "ALLOW", PRINCIPAL_ARN, id="the-control-tower-role-session-is-exempted"),
]  # fmt: skip


@pytest.mark.parametrize(("arn", "role_path", "exempted", "effect", "page"), PRINCIPALS)
def test_the_principal_arn_is_the_role_arn_with_its_path(
    arn: str, role_path: str | None, exempted: tuple[str, ...], effect: str, page: str
) -> None:
    assert page
    request = build_request(
        PAYMENTS, "ec2:RunInstances", "us-east-2", principal_arn=arn, role_path=role_path
    )
    assert decide(control_org(exempted), request).effect == effect


def test_a_session_whose_role_path_decides_is_an_input_error_not_a_guess() -> None:
    # PRINCIPAL_ARN + IDENTIFIERS: aws:PrincipalArn is the role ARN with its path; the
    # session ARN does not show the path.
    request = build_request(PAYMENTS, "ec2:RunInstances", "us-east-2", principal_arn=SSO_SESSION)
    with pytest.raises(RequestError) as info:
        decide(control_org((SSO_EXEMPTION,)), request)
    assert str(info.value) == (
        f"principal {SSO_SESSION}: the decision depends on the role's path, which a session ARN "
        "does not show (role path /: DENY; role path /aws-reserved/sso.amazonaws.com/: ALLOW; "
        "role path /path/: DENY; role path /path/to/: DENY); pass the role ARN "
        f"(arn:aws:iam::{PAYMENTS}:role/<path>/{SSO_ROLE}) as --principal-arn, or --role-path"
    )


def test_a_control_tower_session_without_its_path_is_refused_too() -> None:
    # The control exempts role/AWSControlTowerExecution at the root path only (PRINCIPAL_ARN).
    session = f"arn:aws:sts::{PAYMENTS}:assumed-role/AWSControlTowerExecution/s"
    request = build_request(PAYMENTS, "ec2:RunInstances", "us-east-2", principal_arn=session)
    with pytest.raises(RequestError, match="role path /: ALLOW; role path /aws-reserved"):
        decide(control_org(()), request)


def test_a_session_resolves_to_the_role_arn_with_the_given_path() -> None:
    principal = parse_principal(SSO_SESSION, PAYMENTS, "/aws-reserved/sso.amazonaws.com/")
    assert (principal.caller_arn, principal.principal_arn) == (SSO_SESSION, SSO_ROLE_ARN)


BAD_PRINCIPALS = [
    pytest.param("WorkloadRole", None,
                 "principal 'WorkloadRole' is not an IAM or STS ARN", IDENTIFIERS, id="not-an-arn"),
    pytest.param(f"arn:aws:iam::{ML}:role/WorkloadRole", None,
                 f"principal 'arn:aws:iam::{ML}:role/WorkloadRole' belongs to account {ML}, "
                 f"not {PAYMENTS}", SCPS, id="another-account"),
    pytest.param(f"arn:aws-cn:iam::{PAYMENTS}:role/R", None,
                 f"principal 'arn:aws-cn:iam::{PAYMENTS}:role/R' is in the aws-cn partition",
                 PARTITIONS, id="another-partition"),
    pytest.param(f"arn:aws:iam::{PAYMENTS}:group/admins", None,
                 f"principal 'arn:aws:iam::{PAYMENTS}:group/admins': an IAM principal is a role",
                 IDENTIFIERS, id="a-group-is-no-principal"),
    pytest.param(f"arn:aws:sts::{PAYMENTS}:assumed-role/R", None,
                 f"principal 'arn:aws:sts::{PAYMENTS}:assumed-role/R': a session ARN is",
                 IDENTIFIERS, id="a-session-without-its-session-name"),
    pytest.param(SSO_SESSION, "aws-reserved", "--role-path 'aws-reserved': an IAM path starts "
                 "and ends with '/'", IDENTIFIERS, id="a-path-without-slashes"),
    pytest.param(SSO_ROLE_ARN, "/", f"principal '{SSO_ROLE_ARN}' has the path "
                 "/aws-reserved/sso.amazonaws.com/, but --role-path is /", IDENTIFIERS,
                 id="a-role-arn-and-a-role-path-that-disagree"),
    pytest.param(f"arn:aws:iam::{PAYMENTS}:user/bob", "/", f"principal 'arn:aws:iam::{PAYMENTS}:"
                 "user/bob' is not a role; --role-path applies to roles", IDENTIFIERS,
                 id="a-role-path-for-a-user"),
]  # fmt: skip


@pytest.mark.parametrize(("arn", "role_path", "starts", "page"), BAD_PRINCIPALS)
def test_a_principal_that_cannot_make_the_request_is_an_input_error(
    arn: str, role_path: str | None, starts: str, page: str
) -> None:
    assert page
    with pytest.raises(RequestError) as info:
        parse_principal(arn, PAYMENTS, role_path)
    assert str(info.value).startswith(starts)


# ---------------------------------------------------------------- 4. Regions and profiles

BAD_REGIONS = [
    pytest.param("us-east-9", "Region 'us-east-9' is not a Region of the aws partition "
                 "(botocore's endpoint data); did you mean us-east-2 or us-east-1 or us-west-2? "
                 "Valid choices: af-south-1, ", REQUESTED_REGION, id="an-unknown-code"),
    pytest.param("US-EAST-1", "Region 'US-EAST-1': Region codes are lower case; did you mean "
                 "us-east-1?", REQUESTED_REGION, id="upper-case-is-refused-not-mismatched"),
    pytest.param("cn-north-1", "Region 'cn-north-1' is in the aws-cn partition; an organization "
                 "and its SCPs live in one partition, and this one is aws: choose one of "
                 "af-south-1, ", PARTITIONS, id="china"),
    pytest.param("us-gov-west-1", "Region 'us-gov-west-1' is in the aws-us-gov partition",
                 PARTITIONS, id="govcloud"),
    pytest.param("Unspecified", "Region 'Unspecified': Region codes are lower case; did you "
                 "mean unspecified?", GLOBAL, id="unspecified-in-capitals"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "starts", "page"), BAD_REGIONS)
def test_a_region_that_cannot_be_requested_is_an_input_error(
    text: str, starts: str, page: str
) -> None:
    assert page
    with pytest.raises(RequestError) as info:
        resolve_region(text)
    assert str(info.value).startswith(starts)


def test_unspecified_is_a_region_a_request_may_name(local: Evaluator) -> None:
    # GLOBAL: aws:RequestedRegion is "unspecified" for the global model.
    assert resolve_region("unspecified") == "unspecified"
    assert decide(local, build_request(PAYMENTS, INVOKE, "unspecified")).effect == "DENY"


BAD_PROFILES = [
    pytest.param("us-east-1", "xx.model", "inference profile 'xx.model': unknown geography "
                 "prefix 'xx.'", SUPPORT, id="an-unknown-geography"),
    pytest.param("eu-west-2", US, f"inference profile '{US}' is called from ca-central-1, "
                 "us-east-1, us-east-2, us-west-1, us-west-2 (AWS's table for the profile: "
                 "Supported Regions and models for inference profiles", SUPPORT,
                 id="a-us-profile-from-london"),
    pytest.param("ca-west-1", US, f"inference profile '{US}' is called from ca-central-1, "
                 "us-east-1, us-east-2, us-west-1, us-west-2", SUPPORT,
                 id="a-us-sonnet-45-profile-from-calgary"),
    pytest.param("eu-west-2", "us.example.model-v1:0", "inference profile "
                 "'us.example.model-v1:0': us. profiles are called from ca-central-1, ca-west-1, "
                 "us-east-1, us-east-2, us-west-1, us-west-2, not eu-west-2", SUPPORT,
                 id="a-us-profile-missing-from-the-table-from-london"),
    pytest.param("unspecified", US, "Region 'unspecified': a call through", GLOBAL,
                 id="a-profile-call-from-no-region"),
    pytest.param("us-gov-west-1", f"us-gov.{MODEL}", "Region 'us-gov-west-1' is in the "
                 "aws-us-gov partition", PARTITIONS, id="a-govcloud-profile"),
    pytest.param("us-east-1", f"arn:aws:bedrock:us-east-1:{PAYMENTS}:application-inference-"
                 "profile/abc123", "inference profile 'arn:aws:bedrock:us-east-1:"
                 f"{PAYMENTS}:application-inference-profile/abc123': an application inference "
                 "profile routes like", SUPPORT, id="an-application-profile"),
    pytest.param("us-east-2", f"arn:aws:bedrock:us-east-1:{PAYMENTS}:inference-profile/{US}",
                 f"inference profile 'arn:aws:bedrock:us-east-1:{PAYMENTS}:inference-profile/"
                 f"{US}' is in us-east-1, but the call is made in us-east-2", SUPPORT,
                 id="a-profile-arn-of-another-region"),
    pytest.param("us-east-1", f"arn:aws:bedrock:us-east-1:{ML}:inference-profile/{US}",
                 f"inference profile 'arn:aws:bedrock:us-east-1:{ML}:inference-profile/{US}' "
                 f"names account {ML}; the caller's account is {PAYMENTS}", SUPPORT,
                 id="a-profile-arn-of-another-account"),
]  # fmt: skip


@pytest.mark.parametrize(("region", "profile", "starts", "page"), BAD_PROFILES)
def test_a_profile_call_that_cannot_exist_is_an_input_error(
    region: str, profile: str, starts: str, page: str
) -> None:
    assert page
    with pytest.raises(RequestError) as info:
        build_request(PAYMENTS, INVOKE, region, inference_profile=profile)
    assert str(info.value).startswith(starts)


def test_a_profile_for_an_action_profiles_do_not_serve_is_an_input_error() -> None:
    with pytest.raises(RequestError, match="ec2:RunInstances does not run through an inference"):
        build_request(PAYMENTS, "ec2:RunInstances", "us-east-1", inference_profile=US)


def test_the_profile_data_names_its_source_page_and_date() -> None:
    data = load_profile_data()
    assert data.source == (
        "Supported Regions and models for inference profiles (Amazon Bedrock User Guide), "
        "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html, "
        "retrieved 2026-12-06"
    )
    assert data.routes_source == (
        "Supported Regions and models for inference profiles, 'Supported cross-Region "
        "inference profiles' (Amazon Bedrock User Guide), "
        "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html, "
        "retrieved 2026-12-06"
    )
    assert sorted(data.geographies) == ["apac", "au", "ca", "eu", "global", "jp", "us", "us-gov"]
    assert len(data.routes) == 96


def test_each_geography_covers_every_region_its_profiles_in_the_table_reach() -> None:
    # The union is the fallback for a profile missing from the table: it must be at least
    # as wide as any profile of the geography that AWS lists.
    data = load_profile_data()
    for profile_id, route in data.routes.items():
        geography = data.geographies[profile_id.split(".")[0]]
        reached = {*route.sources, *(r for d in route.destinations.values() for r in d)}
        assert reached <= set(geography.regions), profile_id


def test_an_environment_file_overrides_a_geography(tmp_path: Path, local: Evaluator) -> None:
    (tmp_path / "inference_profiles.yaml").write_text(
        "geographies:\n  us:\n    regions: [us-east-1]\n"
    )
    data = load_profile_data(tmp_path)
    assert data.geographies["us"].regions == ("us-east-1",)
    assert data.geographies["eu"].regions[0] == "eu-central-1"
    unlisted = "us.example.model-v1:0"
    request = build_request(
        PAYMENTS, INVOKE, "us-east-1", inference_profile=unlisted, profile_data=data
    )
    assert decide(local, request).effect == "ALLOW"


def test_an_environment_file_overrides_a_profile_s_table(tmp_path: Path, local: Evaluator) -> None:
    (tmp_path / "inference_profiles.yaml").write_text(
        f"profiles:\n  {US}:\n    us-east-1: [us-east-1]\n"
    )
    data = load_profile_data(tmp_path)
    request = build_request(PAYMENTS, INVOKE, "us-east-1", inference_profile=US, profile_data=data)
    assert [leg.region for leg in legs(request)] == ["us-east-1", "us-east-1"]
    assert decide(local, request).effect == "ALLOW"
    assert data.routes_source.endswith(f"; overridden by {tmp_path / 'inference_profiles.yaml'}")


def test_an_override_naming_an_unknown_region_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "inference_profiles.json"
    path.write_text(json.dumps({"geographies": {"us": {"regions": ["us-east-9"]}}}))
    with pytest.raises(InputError) as info:
        load_profile_data(tmp_path)
    assert str(info.value) == (
        f"{path}: geographies.us.regions: us-east-9 is not a Region of the aws partition"
    )
