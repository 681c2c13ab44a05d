"""The gate at every moment of an apply: hand-made plans that passed and must not.

Each plan is the smallest that shows one way an exempted action could be
open for a moment (or for good) while the review's verdict was "passed":

- an SCP updated out of the guard while the SCP that guards after the apply
  comes with a new attachment nothing orders first;
- an OU that also carries an attachment whose SCP the plan does not hold
  (the other checks of the moment were skipped for it);
- a guard whose condition names a key twice, in two cases (AWS reads
  condition keys case-insensitively; the two readers took different ones);
- an attachment whose SCP is told by the root's ``scp_attachment_policies``
  output while its own expression names another SCP, or two of them;
- a control forgotten (a ``removed`` block with ``destroy = false``: AWS
  keeps it, exemptions too) while its OU's guard is detached, with
  ``--allow-destroy``, which never lifts the narrowed-guard rule.
"""

from __future__ import annotations

import json
from typing import Any

from regionguard.planfile import parse_plan
from regionguard.review import review_plan

OU = "ou-abcd-12345678"
ARN = f"arn:aws:organizations::111111111111:ou/o-abcdefghij/{OU}"
POLICY = "aws_organizations_policy"
ATTACHMENT = "aws_organizations_policy_attachment"
CONTROL = "aws_controltower_control"
INVOKE = ["bedrock:InvokeModel"]


def guard(actions: list[str], condition: dict[str, Any] | None = None) -> str:
    block = condition or {
        "aws:RequestedRegion": ["us-east-1"],
        "aws:PrincipalAccount": ["222222222222"],
    }
    statement = {
        "Sid": "Guard",
        "Effect": "Deny",
        "Action": actions,
        "Resource": "*",
        "Condition": {"StringNotEquals": block},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def control(exempted: list[str]) -> dict[str, Any]:
    parameters = [
        {"key": "AllowedRegions", "value": json.dumps(["us-east-1"])},
        {"key": "ExemptedActions", "value": json.dumps(exempted)},
    ]
    return {"target_identifier": ARN, "control_identifier": "c", "parameters": parameters}


def change(
    address: str,
    kind: str,
    actions: list[str],
    before: Any,
    after: Any,
    unknown: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "address": address,
        "type": kind,
        "mode": "managed",
        "name": address.split(".")[-1],
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": unknown or {},
        },
    }


def review(
    changes: list[dict[str, Any]],
    configuration: dict[str, Any] | None = None,
    *,
    allow_destroy: bool = False,
    outputs: dict[str, Any] | None = None,
) -> Any:
    plan: dict[str, Any] = {
        "format_version": "1.2",
        "terraform_version": "1.11.0",
        "complete": True,
        "applyable": True,
        "errored": False,
        "variables": {"home_region": {"value": "us-east-1"}},
        "planned_values": {},
        "resource_changes": changes,
    }
    if configuration is not None:
        plan["configuration"] = configuration
    if outputs is not None:
        plan["output_changes"] = outputs
    return review_plan(parse_plan(json.dumps(plan), "plan.json"), allow_destroy=allow_destroy)


def scp(name: str, content: str, policy_id: str | None = None) -> dict[str, Any]:
    out = {"content": content, "type": "SERVICE_CONTROL_POLICY", "name": name}
    return {**out, "id": policy_id} if policy_id else out


def test_an_scp_updated_out_of_the_guard_before_the_new_guard_is_attached_is_refused() -> None:
    old = scp("a", guard(INVOKE), "p-aaaaaaaa")
    attached = {"id": "x", "policy_id": "p-aaaaaaaa", "target_id": OU}
    review_ = review(
        [
            change(f"{POLICY}.a", POLICY, ["update"], old, {**old, "content": guard(["s3:Get*"])}),
            change(f"{POLICY}.b", POLICY, ["create"], None, scp("b", guard(INVOKE)), {"id": True}),
            change(f"{ATTACHMENT}.a", ATTACHMENT, ["no-op"], attached, attached),
            change(
                f"{ATTACHMENT}.b",
                ATTACHMENT,
                ["create"],
                None,
                {"target_id": OU},
                {"id": True, "policy_id": True},
            ),
            change(f"{CONTROL}.c", CONTROL, ["no-op"], control(INVOKE), control(INVOKE)),
        ],
        {
            "root_module": {
                "resources": [
                    {
                        "address": f"{ATTACHMENT}.b",
                        "expressions": {
                            "policy_id": {"references": [f"{POLICY}.b.id", f"{POLICY}.b"]}
                        },
                    }
                ]
            }
        },
    )
    assert not review_.passed
    [reason] = review_.reasons
    assert reason.rule_id == "RG-PLAN-GUARD-NARROWED"
    assert "comes with aws_organizations_policy_attachment.b, which nothing orders first" in (
        reason.message
    )


def test_an_attachment_the_plan_cannot_resolve_does_not_hide_a_narrowed_guard() -> None:
    both = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    one = ["bedrock:InvokeModelWithResponseStream"]
    before = scp("g", guard(both), "p-guard0001")
    attached = {"id": "x", "policy_id": "p-guard0001", "target_id": OU}
    other = {"id": "y", "policy_id": "p-FullAWSAccess", "target_id": OU}
    changes = [
        change(f"{POLICY}.g", POLICY, ["update"], before, {**before, "content": guard(one)}),
        change(f"{ATTACHMENT}.g", ATTACHMENT, ["no-op"], attached, attached),
        change(f"{CONTROL}.c", CONTROL, ["update"], control(both), control(one)),
    ]
    assert [r.rule_id for r in review(changes).reasons] == ["RG-PLAN-GUARD-NARROWED"]
    with_other = [*changes, change(f"{ATTACHMENT}.full", ATTACHMENT, ["no-op"], other, other)]
    assert [r.rule_id for r in review(with_other).reasons] == ["RG-PLAN-GUARD-NARROWED"]


def test_a_guard_naming_a_condition_key_twice_in_two_cases_guards_nothing() -> None:
    for first, second in (
        ("aws:RequestedRegion", "aws:requestedregion"),
        ("aws:requestedregion", "aws:RequestedRegion"),
    ):
        condition = {
            first: ["us-east-1"],
            second: ["eu-west-1"],
            "aws:PrincipalAccount": ["222222222222"],
        }
        policy = scp("g", guard(INVOKE, condition), "p-guard0001")
        attached = {"id": "x", "policy_id": "p-guard0001", "target_id": OU}
        result = review(
            [
                change(f"{POLICY}.g", POLICY, ["create"], None, policy),
                change(f"{ATTACHMENT}.g", ATTACHMENT, ["create"], None, attached),
                change(f"{CONTROL}.c", CONTROL, ["create"], None, control(INVOKE)),
            ]
        )
        assert not result.passed, (first, second)
        assert "RG-CTRL-UNGUARDED" in [r.rule_id for r in result.reasons]


def test_a_forgotten_control_keeps_its_exemptions_in_aws_and_needs_its_guard() -> None:
    policy = scp("g", guard(INVOKE), "p-guard0001")
    attached = {"id": "x", "policy_id": "p-guard0001", "target_id": OU}
    changes = [
        change(f"{POLICY}.g", POLICY, ["no-op"], policy, policy),
        change(f"{ATTACHMENT}.g", ATTACHMENT, ["delete"], attached, None),
        change(f"{CONTROL}.c", CONTROL, ["forget"], control(INVOKE), None),
    ]
    result = review(changes, allow_destroy=True)
    assert not result.passed
    assert "RG-PLAN-GUARD-NARROWED" in [r.rule_id for r in result.reasons]
    # Destroyed, not forgotten, the control takes its exemptions with it.
    changes[2] = change(f"{CONTROL}.c", CONTROL, ["delete"], control(INVOKE), None)
    assert review(changes, allow_destroy=True).passed


MODULE = "module.bedrock_inference_scp"


def _attachment_plan(
    references: list[str],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    weak = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Nothing", "Effect": "Deny", "Action": ["s3:GetObject"], "Resource": "*"}
            ],
        }
    )

    def in_module(item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "module_address": MODULE}

    return (
        [
            in_module(
                change(
                    f'{MODULE}.{POLICY}.per_ou["{OU}"]',
                    POLICY,
                    ["create"],
                    None,
                    scp("g", guard(INVOKE)),
                    {"id": True},
                )
            ),
            in_module(
                change(
                    f"{MODULE}.{POLICY}.weak",
                    POLICY,
                    ["create"],
                    None,
                    scp("w", weak),
                    {"id": True},
                )
            ),
            in_module(
                change(
                    f'{MODULE}.{ATTACHMENT}.per_ou["{OU}"]',
                    ATTACHMENT,
                    ["create"],
                    None,
                    {"target_id": OU},
                    {"id": True, "policy_id": True},
                )
            ),
            change(
                f'module.region_deny_control.{CONTROL}.this["x"]',
                CONTROL,
                ["create"],
                None,
                control(INVOKE),
            ),
        ],
        {
            "root_module": {
                "module_calls": {
                    "bedrock_inference_scp": {
                        "module": {
                            "resources": [
                                {
                                    "address": f"{ATTACHMENT}.per_ou",
                                    "expressions": {"policy_id": {"references": references}},
                                }
                            ]
                        }
                    }
                }
            }
        },
    )


def test_an_attachment_s_scp_is_not_taken_from_an_output_its_expression_contradicts() -> None:
    for references in (
        [f"{POLICY}.weak.id", f"{POLICY}.weak"],
        ["var.use_guard", f"{POLICY}.per_ou.id", f"{POLICY}.per_ou", f"{POLICY}.weak.id"],
    ):
        changes, configuration = _attachment_plan(references)
        per_ou = {OU: {"resource": "per_ou", "key": OU}}
        output = {"actions": ["create"], "before": None, "after": per_ou, "after_unknown": False}
        result = review(changes, configuration, outputs={"scp_attachment_policies": output})
        assert not result.passed, references
        assert "RG-CTRL-UNGUARDED" in [r.rule_id for r in result.reasons]
