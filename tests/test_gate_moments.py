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
  ``--allow-destroy``, which never lifts the narrowed-guard rule;
- a child OU that a guard spares (``aws:PrincipalOrgPaths``) while its own
  guard is not there yet (a spare added before the child's new attachment,
  unless ``depends_on`` orders it), or for a moment (its attachment replaced
  destroy-first, or deleted with no ``terraform_data`` naming both the old
  and the new attachments' resources).
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
    plan["configuration"] = _ordered(changes, configuration)
    if outputs is not None:
        plan["output_changes"] = outputs
    return review_plan(parse_plan(json.dumps(plan), "plan.json"), allow_destroy=allow_destroy)


def _ordered(changes: list[dict[str, Any]], configuration: dict[str, Any] | None) -> dict[str, Any]:
    """``configuration``, with each control depending on the SCPs and attachments (as
    envs/_shared orders the control module after the SCP module)."""
    out: dict[str, Any] = json.loads(json.dumps(configuration or {"root_module": {}}))
    root = out.setdefault("root_module", {})
    resources = root.setdefault("resources", [])
    guards = sorted(
        {
            c.get("module_address") or c["address"].split("[", 1)[0]
            for c in changes
            if c["type"] in (POLICY, ATTACHMENT)
        }
    )
    for address in sorted({c["address"].split("[", 1)[0] for c in changes if c["type"] == CONTROL}):
        if not address.startswith("module."):
            resources.append({"address": address, "depends_on": guards})
    if any(c["type"] == CONTROL and c["address"].startswith("module.") for c in changes):
        calls = root.setdefault("module_calls", {})
        calls.setdefault("region_deny_control", {})["depends_on"] = [MODULE]
    return out


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


# ------------------------------------------------------------ spared child OUs

CHILD = "ou-abcd-87654321"
SPARE = {
    "ForAllValues:StringNotLike": {"aws:PrincipalOrgPaths": [f"o-abcdefghij/r-abcd/{OU}/{CHILD}/*"]}
}


def sparing_guard(actions: list[str]) -> str:
    """A guard of the first-tier OU that spares the accounts under CHILD."""
    document = json.loads(guard(actions))
    document["Statement"][0]["Condition"].update(SPARE)
    return json.dumps(document)


def _module_change(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "module_address": MODULE}


def _spare_plan(
    *,
    parent: tuple[str, str],
    child_actions: list[str],
    depends_on: list[str] | None = None,
    ordering_refs: list[str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """OU's SCP changes from ``parent[0]`` to ``parent[1]``; CHILD's old attachment is
    replaced (``child_actions``) by one of a new SCP that guards InvokeModel."""
    before, after = parent
    top = scp("top", before, "p-top00001")
    top_attached = {"id": "t", "policy_id": "p-top00001", "target_id": OU}
    old_child = scp("old", guard(["s3:GetObject"]), "p-old00001")
    child_attached = {"id": "c", "policy_id": "p-old00001", "target_id": CHILD}
    changes = [
        change(f"{MODULE}.{POLICY}.per_ou", POLICY, ["update"], top, {**top, "content": after}),
        change(f"{MODULE}.{ATTACHMENT}.per_ou", ATTACHMENT, ["no-op"], top_attached, top_attached),
        change(
            f"{MODULE}.{POLICY}.second_tier",
            POLICY,
            ["create"],
            None,
            scp("child", guard(INVOKE)),
            {"id": True},
        ),
        change(
            f"{MODULE}.{ATTACHMENT}.second_tier",
            ATTACHMENT,
            ["create"],
            None,
            {"target_id": CHILD},
            {"id": True, "policy_id": True},
        ),
        change(f"{MODULE}.{POLICY}.old", POLICY, ["no-op"], old_child, old_child),
        change(f"{MODULE}.{ATTACHMENT}.old", ATTACHMENT, child_actions, child_attached, None),
        change(f"{CONTROL}.c", CONTROL, ["no-op"], control(INVOKE), control(INVOKE)),
    ]
    changes = [_module_change(c) if c["address"].startswith(MODULE) else c for c in changes]
    resources: list[dict[str, Any]] = [
        {
            "address": f"{ATTACHMENT}.second_tier",
            "expressions": {"policy_id": {"references": [f"{POLICY}.second_tier.id"]}},
        },
        {"address": f"{POLICY}.per_ou", "depends_on": depends_on or []},
    ]
    if ordering_refs is not None:
        data: dict[str, Any] = {"input": {}, "output": {}}
        changes.append(
            _module_change(
                change(
                    f"{MODULE}.terraform_data.attachments", "terraform_data", ["update"], data, data
                )
            )
        )
        resources.append(
            {
                "address": "terraform_data.attachments",
                "expressions": {"input": {"references": ordering_refs}},
            }
        )
    configuration = {
        "root_module": {
            "module_calls": {"bedrock_inference_scp": {"module": {"resources": resources}}}
        }
    }
    return changes, configuration


def _reasons(changes: list[dict[str, Any]], configuration: dict[str, Any], **kw: Any) -> list[str]:
    return [r.message for r in review(changes, configuration, **kw).reasons]


def test_a_spare_added_before_the_child_s_guard_is_attached_is_refused() -> None:
    """The first-tier SCP starts sparing CHILD while CHILD's guard comes with a new attachment."""
    refs = [f"{ATTACHMENT}.per_ou", f"{ATTACHMENT}.second_tier", f"{ATTACHMENT}.old"]
    parent = (guard(INVOKE), sparing_guard(INVOKE))
    changes, configuration = _spare_plan(
        parent=parent, child_actions=["delete"], ordering_refs=refs
    )
    [message] = _reasons(changes, configuration, allow_destroy=True)
    assert f"spares the accounts under {CHILD}" in message
    assert f"guards only with {MODULE}.{ATTACHMENT}.second_tier, which nothing orders" in message
    # The module's way: the sparing SCP depends on the second-tier attachments.
    changes, configuration = _spare_plan(
        parent=parent,
        child_actions=["delete"],
        ordering_refs=refs,
        depends_on=[f"{ATTACHMENT}.second_tier"],
    )
    assert _reasons(changes, configuration, allow_destroy=True) == []


def test_a_spared_child_s_guard_replaced_destroy_first_is_refused() -> None:
    """CHILD's attachment replaced delete-then-create: in between, the spare leaves it open."""
    spare = sparing_guard(INVOKE)
    policy = scp("child", guard(INVOKE), "p-child0001")
    attached = {"id": "c", "policy_id": "p-child0001", "target_id": CHILD}
    top = scp("top", spare, "p-top00001")
    top_attached = {"id": "t", "policy_id": "p-top00001", "target_id": OU}
    changes = [
        change(f"{POLICY}.top", POLICY, ["no-op"], top, top),
        change(f"{ATTACHMENT}.top", ATTACHMENT, ["no-op"], top_attached, top_attached),
        change(f"{POLICY}.child", POLICY, ["no-op"], policy, policy),
        change(
            f"{ATTACHMENT}.child",
            ATTACHMENT,
            ["delete", "create"],
            attached,
            {**attached, "id": None},
            {"id": True},
        ),
        change(f"{CONTROL}.c", CONTROL, ["no-op"], control(INVOKE), control(INVOKE)),
    ]
    result = review(changes, allow_destroy=True)
    [reason] = result.reasons
    assert reason.rule_id == "RG-PLAN-GUARD-NARROWED"
    assert f"destroys {ATTACHMENT}.child before it creates the new one" in reason.message
    assert f"every account under {CHILD}" in reason.message
    # Created first (create_before_destroy), the child is never without it.
    changes[3]["change"]["actions"] = ["create", "delete"]
    assert review(changes, allow_destroy=True).passed


def test_a_spared_child_s_guard_deleted_before_its_replacement_exists_is_refused() -> None:
    """CHILD's old guard is deleted, a new one created; the ordering must name both resources."""
    spare = sparing_guard(INVOKE)
    parent = (spare, spare)
    for refs, refused in (
        (None, True),
        # A terraform_data that names another resource orders nothing here.
        ([f"{ATTACHMENT}.per_ou"], True),
        ([f"{ATTACHMENT}.per_ou", f"{ATTACHMENT}.old"], True),
        ([f"{ATTACHMENT}.per_ou", f"{ATTACHMENT}.second_tier", f"{ATTACHMENT}.old"], False),
    ):
        changes, configuration = _spare_plan(
            parent=parent, child_actions=["delete"], ordering_refs=refs
        )
        # The old child SCP guarded InvokeModel too: only its detach opens anything.
        changes[4]["change"]["before"]["content"] = guard(INVOKE)
        changes[4]["change"]["after"]["content"] = guard(INVOKE)
        messages = _reasons(changes, configuration, allow_destroy=True)
        if refused:
            [message] = messages
            assert f"if it deletes {MODULE}.{ATTACHMENT}.old before the new" in message, refs
        else:
            assert messages == [], refs


def test_a_guard_of_the_ou_that_does_not_spare_the_child_guards_its_accounts() -> None:
    """SCPs at one level all apply: an OU's second guard covers the child the first spares."""
    spare = scp("spare", sparing_guard(INVOKE), "p-spare0001")
    whole = scp("whole", guard(INVOKE), "p-whole0001")
    changes = [
        change(f"{POLICY}.spare", POLICY, ["create"], None, spare),
        change(f"{POLICY}.whole", POLICY, ["create"], None, whole),
        change(
            f"{ATTACHMENT}.spare",
            ATTACHMENT,
            ["create"],
            None,
            {"policy_id": "p-spare0001", "target_id": OU},
        ),
        change(
            f"{ATTACHMENT}.whole",
            ATTACHMENT,
            ["create"],
            None,
            {"policy_id": "p-whole0001", "target_id": OU},
        ),
        change(f"{CONTROL}.c", CONTROL, ["create"], None, control(INVOKE)),
    ]
    assert review(changes).passed
    # Without the second guard, the child has none.
    result = review([changes[0], changes[2], changes[4]])
    assert [r.rule_id for r in result.reasons] == ["RG-CTRL-UNGUARDED"]
    assert f"spares the accounts under {CHILD}" in result.reasons[0].message
