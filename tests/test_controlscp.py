from __future__ import annotations

import json

from regionguard.controlscp import (
    CONTROL_TOWER_ROLE_ARNS,
    GLOBAL_SERVICE_ACTIONS,
    control_scp_template,
    landing_zone_deny_document,
    landing_zone_deny_source,
    render_control_scp,
    render_landing_zone_deny,
)

SEED_REGIONS = ["ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"]
SEED_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def test_template_is_one_deny_with_the_control_sid_and_placeholders() -> None:
    template = control_scp_template()
    assert template["Version"] == "2012-10-17"
    (statement,) = template["Statement"]
    assert statement["Sid"] == "CTMULTISERVICEPV1"
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == "*"
    assert statement["NotAction"][0] == "{{ExemptedActions}}"
    assert statement["Condition"] == {
        "StringNotEquals": {"aws:RequestedRegion": "{{AllowedRegions}}"},
        "ArnNotLike": {"aws:PrincipalARN": ["{{ExemptedPrincipalArns}}", *CONTROL_TOWER_ROLE_ARNS]},
    }


def test_global_service_actions_are_the_86_of_the_published_artifact() -> None:
    assert len(GLOBAL_SERVICE_ACTIONS) == 86
    assert len(set(GLOBAL_SERVICE_ACTIONS)) == 86
    assert GLOBAL_SERVICE_ACTIONS[:3] == ("a4b:*", "access-analyzer:*", "account:*")
    assert GLOBAL_SERVICE_ACTIONS[-3:] == ("waf-regional:*", "waf:*", "wafv2:*")
    for action in ("iam:*", "organizations:*", "sts:*", "support:*", "route53:*", "cloudfront:*"):
        assert action in GLOBAL_SERVICE_ACTIONS
    assert not any(a.startswith("bedrock:") for a in GLOBAL_SERVICE_ACTIONS)


def test_control_tower_roles_are_always_exempted() -> None:
    assert CONTROL_TOWER_ROLE_ARNS == (
        "arn:*:iam::*:role/AWSControlTowerExecution",
        "arn:*:iam::*:role/aws-controltower-ConfigRecorderRole",
        "arn:*:iam::*:role/aws-controltower-ForwardSnsNotificationRole",
        "arn:*:iam::*:role/AWSControlTower_VPCFlowLogsRole",
    )


def test_parameters_are_spliced_first_into_their_lists() -> None:
    document = json.loads(
        render_control_scp(SEED_REGIONS, SEED_ACTIONS, ["arn:aws:iam::*:role/Admin"])
    )
    (statement,) = document["Statement"]
    assert statement["NotAction"] == [*SEED_ACTIONS, *GLOBAL_SERVICE_ACTIONS]
    assert statement["Condition"]["StringNotEquals"] == {"aws:RequestedRegion": SEED_REGIONS}
    assert statement["Condition"]["ArnNotLike"] == {
        "aws:PrincipalARN": ["arn:aws:iam::*:role/Admin", *CONTROL_TOWER_ROLE_ARNS]
    }


def test_rendering_is_minified_in_template_key_order() -> None:
    rendered = render_control_scp(SEED_REGIONS, SEED_ACTIONS, [])
    assert rendered.startswith(
        '{"Version":"2012-10-17","Statement":[{"Sid":"CTMULTISERVICEPV1","Effect":"Deny",'
        '"NotAction":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream","a4b:*",'
    )
    assert rendered.endswith(
        '"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":'
        '["ap-northeast-1","ap-northeast-3","us-east-1","eu-west-2"]},"ArnNotLike":'
        '{"aws:PrincipalARN":["arn:*:iam::*:role/AWSControlTowerExecution",'
        '"arn:*:iam::*:role/aws-controltower-ConfigRecorderRole",'
        '"arn:*:iam::*:role/aws-controltower-ForwardSnsNotificationRole",'
        '"arn:*:iam::*:role/AWSControlTower_VPCFlowLogsRole"]}}}]}'
    )
    assert len(rendered) == 2314


def test_size_grows_with_each_exemption_by_its_quoted_length_and_comma() -> None:
    base = len(render_control_scp(["us-east-1"], [], []))
    grown = len(render_control_scp(["us-east-1"], ["bedrock:InvokeModel"], []))
    assert grown - base == len('"bedrock:InvokeModel",')


def test_rendering_does_not_alter_the_template() -> None:
    render_control_scp(SEED_REGIONS, SEED_ACTIONS, ["arn:aws:iam::*:role/Admin"])
    assert control_scp_template()["Statement"][0]["NotAction"][0] == "{{ExemptedActions}}"


# ---------------------------------------------------------------- the landing-zone Region deny
# AWS Control Tower Controls Reference Guide, "Deny access to AWS based on the requested
# AWS Region": https://docs.aws.amazon.com/controltower/latest/controlreference/
# primary-region-deny-policy.html (GRREGIONDENY).


def test_landing_zone_deny_exempts_only_the_control_tower_execution_role_in_the_aws_partition() -> (
    None
):
    (statement,) = landing_zone_deny_document(["us-east-1"])["Statement"]
    assert statement["Sid"] == "GRREGIONDENY"
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {
        "StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]},
        "ArnNotLike": {"aws:PrincipalARN": ["arn:aws:iam::*:role/AWSControlTowerExecution"]},
    }


def test_landing_zone_deny_denies_every_action_but_the_86_global_service_entries() -> None:
    (statement,) = landing_zone_deny_document(["us-east-1"])["Statement"]
    assert statement["NotAction"] == list(GLOBAL_SERVICE_ACTIONS)
    assert not any(a.startswith("bedrock:") for a in statement["NotAction"])


def test_landing_zone_deny_is_rendered_minified_in_the_published_key_order() -> None:
    rendered = render_landing_zone_deny(["ap-northeast-1", "us-east-1"])
    assert rendered.startswith(
        '{"Version":"2012-10-17","Statement":[{"Sid":"GRREGIONDENY","Effect":"Deny",'
        '"NotAction":["a4b:*","access-analyzer:*",'
    )
    assert rendered.endswith(
        '"wafv2:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":'
        '["ap-northeast-1","us-east-1"]},"ArnNotLike":{"aws:PrincipalARN":'
        '["arn:aws:iam::*:role/AWSControlTowerExecution"]}}}]}'
    )


def test_landing_zone_deny_names_the_page_it_was_transcribed_from() -> None:
    source = landing_zone_deny_source()
    assert source["url"] == (
        "https://docs.aws.amazon.com/controltower/latest/controlreference/"
        "primary-region-deny-policy.html"
    )
    assert source["retrieved"] == "2026-12-06"
