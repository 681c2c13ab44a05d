"""Behaviours of the plan review on small plans built here, one behaviour per test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from regionguard.errors import InputError
from regionguard.planfile import Plan, load_plan, parse_plan
from regionguard.review import PlanReview
from regionguard.review import review_plan as review_checked_plan
from regionguard.review_format import format_review as render
from regionguard.rules import covers
from regionguard.scp import read_scp as policy_view


def review_plan(data: dict[str, Any], source: str = "plan.json", **options: Any) -> PlanReview:
    return review_checked_plan(Plan(data, source), **options)


def action_covered(action: str, guards: list[str]) -> bool:
    return any(covers(g, action) for g in guards)


OU_A = "ou-ab12-aaaaaaaa"
OU_B = "ou-ab12-bbbbbbbb"
ORG = "arn:aws:organizations::111111111111:ou/o-abcdefghij"
SCP = "module.bedrock_inference_scp.aws_organizations_policy.this"
REGIONS = ["ap-northeast-1", "us-east-1"]
ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def scp(accounts: list[str], regions: list[str] = REGIONS, actions: list[str] = ACTIONS) -> str:
    condition: dict[str, Any] = {"aws:RequestedRegion": regions}
    if accounts:
        condition["aws:PrincipalAccount"] = accounts
    statement = {
        "Action": actions,
        "Condition": {"StringNotEquals": condition},
        "Effect": "Deny",
        "Resource": "*",
        "Sid": "DenyBedrockInferenceExceptAllowRegionSpecificAccounts",
    }
    return json.dumps(
        {"Statement": [statement], "Version": "2012-10-17"}, separators=(",", ":"), sort_keys=True
    )


def change(
    address: str,
    rtype: str,
    actions: list[str],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    after_unknown: dict[str, Any] | None = None,
    index: str | None = None,
) -> dict[str, Any]:
    module, _, _ = address.rpartition(f".{rtype}.")
    rc: dict[str, Any] = {
        "address": address,
        "module_address": module,
        "mode": "managed",
        "type": rtype,
        "name": "this",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": after_unknown or {},
        },
    }
    if index is not None:
        rc["index"] = index
    return rc


def policy(actions: list[str], before: str | None, after: str | None) -> dict[str, Any]:
    def side(content: str | None) -> dict[str, Any] | None:
        if content is None:
            return None
        return {"id": "p-12345678", "type": "SERVICE_CONTROL_POLICY", "content": content}

    return change(SCP, "aws_organizations_policy", actions, side(before), side(after))


def attachment(ou: str, actions: list[str], *, after_unknown: dict[str, Any] | None = None) -> Any:
    address = f'module.bedrock_inference_scp.aws_organizations_policy_attachment.this["{ou}"]'
    side = {"policy_id": "p-12345678", "target_id": ou}
    before = None if actions == ["create"] else side
    after = None if actions == ["delete"] else side
    return change(
        address, "aws_organizations_policy_attachment", actions, before, after, after_unknown, ou
    )


def params(regions: list[str] = REGIONS, exempted: list[str] = ACTIONS) -> list[dict[str, str]]:
    out = [{"key": "AllowedRegions", "value": json.dumps(regions)}]
    if exempted:
        out.append({"key": "ExemptedActions", "value": json.dumps(exempted)})
    return out


def control(
    ou: str,
    actions: list[str],
    before: list[dict[str, str]] | None = None,
    after: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    address = f'module.region_deny_control.aws_controltower_control.this["{ou}"]'

    def side(parameters: list[dict[str, str]] | None) -> dict[str, Any] | None:
        if parameters is None:
            return None
        return {"target_identifier": f"{ORG}/{ou}", "parameters": parameters}

    return change(address, "aws_controltower_control", actions, side(before), side(after), None, ou)


def plan(*resource_changes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "variables": {"home_region": {"value": "ap-northeast-1"}},
        "resource_changes": list(resource_changes),
        "output_changes": {
            "targets": {
                "actions": ["no-op"],
                "before": {OU_A: "Workloads", OU_B: "Sandbox"},
                "after": {OU_A: "Workloads", OU_B: "Sandbox"},
                "after_unknown": False,
            }
        },
    }
    data.update(extra)
    return data


def steady(*, scp_before: str, scp_after: str, **extra: Any) -> dict[str, Any]:
    """Two OUs, each with the control and the SCP; only the SCP content may change."""
    actions = ["no-op"] if scp_before == scp_after else ["update"]
    return plan(
        policy(actions, scp_before, scp_after),
        attachment(OU_A, ["no-op"]),
        attachment(OU_B, ["no-op"]),
        control(OU_A, ["no-op"], params(), params()),
        control(OU_B, ["no-op"], params(), params()),
        **extra,
    )


# ------------------------------------------------------------------ bad input


def test_missing_plan_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"plan\.json: no such file; write it with"):
        load_plan(tmp_path / "plan.json")


def test_binary_plan_file_is_refused_as_not_text(tmp_path: Path) -> None:
    path = tmp_path / "tfplan"
    path.write_bytes(b"PK\x03\x04\xff\xfe binary")
    with pytest.raises(InputError, match=r"not UTF-8 text .* not the binary plan file"):
        load_plan(path)


def test_json_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InputError, match="the JSON is a list, not a plan object"):
        parse_plan("[]", "plan.json")


def test_raw_state_file_is_refused() -> None:
    state = {"version": 4, "terraform_version": "1.11.4", "serial": 3, "lineage": "x"}
    with pytest.raises(InputError, match="this is a Terraform state file, not a plan"):
        parse_plan(json.dumps(state), "terraform.tfstate")


def test_json_of_a_state_is_refused() -> None:
    shown = {"format_version": "1.0", "terraform_version": "1.11.4", "values": {}}
    with pytest.raises(InputError, match="this is the JSON of a Terraform state, not of a plan"):
        parse_plan(json.dumps(shown), "state.json")


def test_plan_without_format_version_is_refused() -> None:
    with pytest.raises(InputError, match="no format_version"):
        parse_plan('{"resource_changes": []}', "plan.json")


def test_input_errors_exit_2() -> None:
    with pytest.raises(InputError) as err:
        parse_plan("", "plan.json")
    assert err.value.exit_code == 2


# ------------------------------------------------------------------ SCP semantics


def test_exempted_action_is_covered_by_the_same_guard_in_any_case() -> None:
    assert action_covered("Bedrock:invokemodel", ["bedrock:InvokeModel"])


def test_exempted_action_is_covered_by_a_wildcard_guard() -> None:
    assert action_covered("bedrock:InvokeModel", ["bedrock:Invoke*"])


def test_exempted_action_is_not_covered_by_another_action() -> None:
    assert not action_covered("bedrock:CreateModelInvocationJob", ACTIONS)


def test_wildcard_exemption_is_covered_by_a_broader_prefix_guard() -> None:
    assert action_covered("bedrock:Invoke*", ["bedrock:*"])


def test_wildcard_exemption_is_not_covered_by_a_narrower_guard() -> None:
    assert not action_covered("bedrock:*", ["bedrock:Invoke*", *ACTIONS])


def test_policy_view_reads_accounts_regions_and_actions() -> None:
    view = policy_view(scp(["100000000001"]))
    assert (view.permitted_accounts, view.allowed_regions, view.guarded_actions) == (
        frozenset({"100000000001"}),
        tuple(REGIONS),
        tuple(ACTIONS),
    )


def test_deny_not_gated_on_the_region_guards_nothing() -> None:
    document = {
        "Statement": [
            {
                "Action": ACTIONS,
                "Condition": {"StringEquals": {"aws:RequestedRegion": "unspecified"}},
                "Effect": "Deny",
                "Resource": "*",
            }
        ],
        "Version": "2012-10-17",
    }
    assert policy_view(json.dumps(document)).guarded_actions == ()


def test_policy_view_keeps_the_error_of_content_that_is_not_json() -> None:
    assert (
        policy_view("{nope").error
        == "not JSON (Expecting property name enclosed in double quotes at column 2)"
    )


# ------------------------------------------------------------------ summary


def test_newly_permitted_account_is_named_from_the_registry_and_flagged() -> None:
    review = review_plan(
        steady(scp_before=scp(["100000000001"]), scp_after=scp(["100000000001", "100000000002"])),
        account_names={"100000000002": "payments"},
    )
    assert [(w.subject, w.message) for w in review.widening] == [
        (f"SCP {SCP}", "account 100000000002 (payments) newly permitted")
    ]


def test_account_no_longer_permitted_is_listed_but_not_flagged() -> None:
    review = review_plan(
        steady(scp_before=scp(["100000000001", "100000000002"]), scp_after=scp(["100000000001"]))
    )
    assert [a.id for a in review.scps[0].accounts_removed] == ["100000000002"]
    assert review.widening == ()


def test_region_added_to_the_scp_is_flagged() -> None:
    review = review_plan(
        steady(scp_before=scp([]), scp_after=scp([], regions=[*REGIONS, "us-east-2"]))
    )
    assert [w.message for w in review.widening] == ["Region us-east-2 added to the allowed Regions"]


def test_action_no_longer_guarded_is_flagged() -> None:
    review = review_plan(plan(policy(["update"], scp([]), scp([], actions=ACTIONS[:1]))))
    assert [w.message for w in review.widening] == [
        "action bedrock:InvokeModelWithResponseStream no longer guarded"
    ]


def test_exemption_added_to_a_control_is_flagged_per_ou() -> None:
    wider = params(exempted=[*ACTIONS, "bedrock:Converse"])
    review = review_plan(plan(control(OU_A, ["update"], params(), wider)))
    assert [w.message for w in review.widening] == [
        f"ExemptedActions + bedrock:Converse on OU {OU_A} (Workloads)"
    ]


def test_same_widening_on_several_ous_reads_as_one_change() -> None:
    wider = params(regions=[*REGIONS, "eu-west-1"])
    review = review_plan(
        plan(
            control(OU_A, ["update"], params(), wider),
            control(OU_B, ["update"], params(), wider),
        )
    )
    assert [w.message for w in review.widening] == [
        f"AllowedRegions + eu-west-1 on 2 OUs: {OU_B} (Sandbox), {OU_A} (Workloads)"
    ]


def test_size_line_gives_headroom_in_accounts() -> None:
    review = review_plan(
        steady(scp_before=scp([]), scp_after=scp(["100000000001"])), size_limit=400
    )
    text = render(review, "text")
    assert "  Size: 293 → 333 of 400 characters (67 left: room for about 4 more accounts)\n" in text


def test_size_over_the_limit_is_stated() -> None:
    review = review_plan(
        steady(scp_before=scp([]), scp_after=scp(["100000000001"])), size_limit=250
    )
    assert "  Size: 293 → 333 of 250 characters (83 over the limit)\n" in render(review, "text")


def test_adopted_resource_is_listed_as_imported() -> None:
    adopted = control(OU_A, ["no-op"], params(), params())
    adopted["change"]["importing"] = {"id": f"{ORG}/{OU_A},arn:aws:controlcatalog:::control/x"}
    review = review_plan(plan(adopted))
    assert review.resources["import"] == (adopted["address"],)


def test_plan_without_changes_says_so() -> None:
    review = review_plan(steady(scp_before=scp([]), scp_after=scp([])))
    assert render(review, "markdown").startswith(
        "## Plan review: gate passed\n\n"
        "No changes to the Region deny control, the SCP or their attachments.\n"
    )


# ------------------------------------------------------------------ gate


def test_deleting_a_control_fails_the_gate() -> None:
    review = review_plan(plan(control(OU_B, ["delete"], params(), None)))
    assert [(f.rule_id, f.entry) for f in review.reasons] == [
        (
            "RG-PLAN-DESTROY",
            f'module.region_deny_control.aws_controltower_control.this["{OU_B}"]',
        )
    ]


def test_deleting_a_control_passes_with_allow_destroy() -> None:
    review = review_plan(plan(control(OU_B, ["delete"], params(), None)), allow_destroy=True)
    assert review.passed


def test_ou_losing_the_control_is_flagged_even_when_destroy_is_allowed() -> None:
    review = review_plan(plan(control(OU_B, ["delete"], params(), None)), allow_destroy=True)
    assert [w.message for w in review.widening] == [
        f"OU {OU_B} (Sandbox) loses the Region deny control"
    ]


def test_replacing_an_attachment_fails_the_gate() -> None:
    review = review_plan(plan(attachment(OU_A, ["delete", "create"])))
    assert [f.rule_id for f in review.reasons] == ["RG-PLAN-DESTROY"]


def test_an_scp_detached_under_one_address_is_detached_for_another_that_keeps_it() -> None:
    # The single layout's attachment this[OU] deleted while per_ou[OU], adopted,
    # names the same SCP on the same OU: DetachPolicy leaves the OU without it.
    kept = attachment(OU_A, ["no-op"])
    kept["address"] = kept["address"].replace(".this[", ".per_ou[")
    kept["change"]["importing"] = {"id": f"{OU_A}:p-12345678"}
    deleted = attachment(OU_A, ["delete"])
    exempting = control(OU_A, ["no-op"], params(), params())
    scp_kept = policy(["no-op"], scp([]), scp([]))

    review = review_plan(plan(scp_kept, deleted, kept, exempting), allow_destroy=True)
    assert [f.rule_id for f in review.reasons] == ["RG-PLAN-GUARD-NARROWED"] * len(ACTIONS) + [
        "RG-CTRL-UNGUARDED"
    ] * len(ACTIONS)
    assert review_plan(plan(scp_kept, kept, exempting)).passed


def test_forgetting_an_scp_fails_the_gate() -> None:
    review = review_plan(plan(policy(["forget"], scp([]), None)))
    assert [f.rule_id for f in review.reasons] == ["RG-PLAN-DESTROY"]


def test_errored_plan_fails_the_gate() -> None:
    review = review_plan(plan(errored=True))
    assert [f.rule_id for f in review.reasons] == ["RG-PLAN-ERRORED"]


def test_unknown_attachment_target_fails_the_gate() -> None:
    att = attachment(OU_A, ["create"], after_unknown={"target_id": True})
    att["change"]["after"].pop("target_id")
    review = review_plan(plan(att))
    assert [(u.address, u.attribute) for u in review.unknowns] == [(att["address"], "target_id")]
    assert [f.rule_id for f in review.reasons] == ["RG-PLAN-UNKNOWN"]


def test_exemption_guarded_only_by_an_scp_on_another_ou_fails_the_gate() -> None:
    review = review_plan(
        plan(
            policy(["no-op"], scp([]), scp([])),
            attachment(OU_A, ["no-op"]),
            control(OU_A, ["no-op"], params(), params()),
            control(OU_B, ["create"], None, params()),
        )
    )
    assert [r.message for r in review.reasons] == [
        f"Region deny control on 1 OU ({OU_B} (Sandbox)): '{action}' is exempted from the "
        f"Region deny but no SCP attached to the same OU denies {action} outside the allowed "
        "Regions: open to every account in every Region; add it to guarded_actions"
        for action in ACTIONS
    ]


def test_home_region_from_the_command_line_overrides_the_plan() -> None:
    review = review_plan(steady(scp_before=scp([]), scp_after=scp([])), home_region="eu-west-2")
    assert [f.rule_id for f in review.reasons] == ["RG-CTRL-HOME-REGION"]


def test_unknown_home_region_fails_the_gate() -> None:
    review = review_plan(steady(scp_before=scp([]), scp_after=scp([]), variables={}))
    assert [r.message for r in review.reasons] == [
        f"Region deny control on 2 OUs ({OU_B} (Sandbox), {OU_A} (Workloads)): the home Region "
        "is not known (the plan has no home_region variable); pass --home-region"
    ]


def test_planned_scp_that_is_not_json_fails_the_gate_though_no_attachment_is_in_the_plan() -> None:
    review = review_plan(plan(policy(["update"], scp([]), "{")))
    assert [(f.rule_id, f.message) for f in review.reasons] == [
        (
            "RG-SCP-JSON",
            f"{SCP}: the SCP is not JSON (Expecting property name enclosed in double quotes "
            "at column 2)",
        )
    ]


def test_json_format_carries_the_verdict_and_reasons() -> None:
    review = review_plan(plan(control(OU_B, ["delete"], params(), None)), source="p.json")
    data = json.loads(render(review, "json"))
    assert data["gate"] == {
        "passed": False,
        "allow_destroy": False,
        "reasons": [
            {
                "rule_id": "RG-PLAN-DESTROY",
                "level": "error",
                "message": review.reasons[0].message,
                "file": "p.json",
                "entry": f'module.region_deny_control.aws_controltower_control.this["{OU_B}"]',
            }
        ],
    }


def test_dropping_an_exemption_and_its_guard_in_one_apply_fails_the_gate() -> None:
    # Terraform updates the SCP before the control: in between, the action the
    # control still exempts would be denied by no SCP.
    review = review_plan(
        plan(
            policy(["update"], scp([]), scp([], actions=ACTIONS[:1])),
            attachment(OU_A, ["no-op"]),
            control(OU_A, ["update"], params(), params(exempted=ACTIONS[:1])),
        )
    )
    assert [(r.rule_id, r.entry) for r in review.reasons] == [
        ("RG-PLAN-GUARD-NARROWED", f"{OU_A} (Workloads)")
    ]
    assert "Remove it from exempted_actions and apply, then from guarded_actions." in (
        review.reasons[0].message
    )


def test_dropping_the_exemption_first_passes_and_the_guard_next_passes() -> None:
    exemption_first = review_plan(
        plan(
            policy(["no-op"], scp([]), scp([])),
            attachment(OU_A, ["no-op"]),
            control(OU_A, ["update"], params(), params(exempted=ACTIONS[:1])),
        )
    )
    guard_next = review_plan(
        plan(
            policy(["update"], scp([]), scp([], actions=ACTIONS[:1])),
            attachment(OU_A, ["no-op"]),
            control(OU_A, ["no-op"], params(exempted=ACTIONS[:1]), params(exempted=ACTIONS[:1])),
        )
    )
    assert (exemption_first.reasons, guard_next.reasons) == ((), ())


# ------------------------------------------------------- objects listed twice


@pytest.mark.parametrize("second_first", [True, False], ids=["harmless-first", "harmless-last"])
def test_a_plan_that_lists_an_object_twice_is_refused_as_damaged(second_first: bool) -> None:
    """Terraform lists each object once: a reader keeping one entry would keep either."""
    guard = policy(["create"], None, scp(["111111111111"]))
    allow_all = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]})
    harmless = policy(["create"], None, allow_all)
    changes = [harmless, guard] if second_first else [guard, harmless]
    data = plan(*changes, attachment(OU_A, ["create"]), control(OU_A, ["create"], after=params()))
    with pytest.raises(InputError) as caught:
        parse_plan(json.dumps(data), "plan.json")
    assert f"resource_changes[1] lists {SCP} again, after resource_changes[0]" in str(caught.value)


def test_a_deposed_object_is_deleted_under_rg_plan_destroy_and_hides_nothing() -> None:
    """A create_before_destroy replace cut short leaves the old object deposed; its delete is
    listed under the instance's address, beside the instance, and must not shadow it."""
    kept = attachment(OU_A, ["no-op"])
    old = attachment(OU_A, ["delete"])
    old["deposed"] = "00000001"
    old["change"]["before"]["policy_id"] = "p-00000000"
    scp_kept = policy(["no-op"], scp(["111111111111"]), scp(["111111111111"]))
    deposed_scp = policy(["delete"], scp([]), None)
    deposed_scp["deposed"] = "00000002"
    ctl = control(OU_A, ["no-op"], before=params(), after=params())
    data = plan(scp_kept, deposed_scp, kept, old, ctl)
    review = review_plan(data)
    assert {r.rule_id for r in review.reasons} == {"RG-PLAN-DESTROY"}
    assert any("deletes the old object deposed as 00000001" in r.message for r in review.reasons)
    assert review_plan(data, allow_destroy=True).passed


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("Managed", 'resource_changes[2].mode is \'Managed\', neither "managed" nor "data"'),
        ("", 'resource_changes[2].mode is \'\', neither "managed" nor "data"'),
        ("data", "resource_changes[2] is a data source planned to create"),
    ],
)
def test_a_resource_in_a_mode_terraform_does_not_write_is_refused_not_skipped(
    mode: str, says: str
) -> None:
    """A reader that skips what is not "managed" would not see this control's exemptions."""
    ctl = control(OU_A, ["create"], after=params())
    ctl["mode"] = mode
    data = plan(policy(["create"], None, scp(["111111111111"])), attachment(OU_B, ["create"]), ctl)
    with pytest.raises(InputError) as caught:
        parse_plan(json.dumps(data), "plan.json")
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("twice", "key"),
    [
        ('"Effect":"Allow","Effect":"Deny"', "Effect"),
        ('"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}],"Statement":[', "Statement"),
    ],
)
def test_an_scp_that_gives_a_key_twice_fails_the_gate(twice: str, key: str) -> None:
    """JSON leaves a repeated key open; json.loads alone would read the guard (the last one)."""
    content = scp(["111111111111"])
    original = '"Effect":"Deny"' if key == "Effect" else '"Statement":['
    assert original in content
    data = plan(
        policy(["create"], None, content.replace(original, twice, 1)),
        attachment(OU_A, ["create"]),
        control(OU_A, ["create"], after=params()),
    )
    review = review_plan(data)
    assert not review.passed
    messages = [r.message for r in review.reasons if r.rule_id == "RG-SCP-JSON"]
    assert messages, review.reasons
    assert f"gives the key {key!r} twice in one object" in messages[0]


def test_a_plan_with_deferred_changes_is_not_whole_whatever_complete_says() -> None:
    """A deferred control is not in resource_changes: the review would not see it."""
    deferred = control(OU_A, ["create"], after=params(exempted=["bedrock:*"]))
    data = plan(
        policy(["create"], None, scp(["111111111111"])),
        complete=True,
        applyable=True,
        errored=False,
        deferred_changes=[{"reason": "provider_config_unknown", "resource_change": deferred}],
    )
    with pytest.raises(InputError) as caught:
        parse_plan(json.dumps(data), "plan.json")
    assert "deferred_changes lists changes Terraform left for a later plan" in str(caught.value)


@pytest.mark.parametrize(
    ("index", "path", "value", "says"),
    [
        (1, ("policy_id",), [], "resource_changes[1].change.after.policy_id is list []"),
        (1, ("policy_id",), 5, "resource_changes[1].change.after.policy_id is int 5"),
        (1, ("target_id",), None, "resource_changes[1].change.after.target_id is null"),
        (0, ("content",), {"Statement": []}, "resource_changes[0].change.after.content is dict"),
        (0, ("type",), 5, "resource_changes[0].change.after.type is int 5"),
        (0, ("type",), "", 'resource_changes[0].change.after.type is str ""'),
        (0, ("type",), None, "resource_changes[0].change.after.type is null"),
        (2, ("target_identifier",), {}, "resource_changes[2].change.after.target_identifier"),
        (2, ("parameters",), "[]", "resource_changes[2].change.after.parameters is str"),
        (2, ("parameters", 1), "x", "resource_changes[2].change.after.parameters[1] is str"),
        (2, ("parameters", 1, "value"), ["bedrock:*"], ".parameters[1].value is list"),
    ],
)
def test_a_guarded_value_of_a_type_the_provider_does_not_write_is_refused(
    index: int, path: tuple[Any, ...], value: Any, says: str
) -> None:
    """A reader that skipped it would judge the resource as if the value were not there."""
    data = plan(
        policy(["create"], None, scp(["111111111111"])),
        attachment(OU_A, ["create"]),
        control(OU_A, ["create"], after=params()),
    )
    where = data["resource_changes"][index]["change"]["after"]
    for step in path[:-1]:
        where = where[step]
    where[path[-1]] = value
    with pytest.raises(InputError) as caught:
        parse_plan(json.dumps(data), "plan.json")
    assert says in str(caught.value)


def test_a_control_on_something_other_than_an_ou_fails_the_gate() -> None:
    """Which OU's exemptions it governs cannot be told (Control Tower would refuse it too)."""
    ctl = control(OU_A, ["create"], after=params())
    ctl["change"]["after"]["target_identifier"] = "arn:aws:organizations::111111111111:account/x"
    review = review_plan(plan(policy(["create"], None, scp([])), ctl))
    assert [r.rule_id for r in review.reasons] == ["RG-PLAN-UNKNOWN"]
    assert "account/x', not the ARN of an OU" in review.reasons[0].message


def test_the_json_review_describes_a_new_scp_whole() -> None:
    """Every account a new SCP permits, its Regions, actions and options (text cuts at 25)."""
    fixtures = Path(__file__).parent / "fixtures" / "plans" / "bad" / "scp-over-size-limit"
    plan = load_plan(fixtures / "plan.json")
    [scp] = json.loads(render(review_checked_plan(plan), "json"))["scps"]
    assert scp["action"] == "create"
    view = policy_view(
        next(c.after["content"] for c in plan.changes if c.address == scp["address"])
    )
    after = scp["after"]
    assert sorted(a["id"] for a in after["permitted"]) == sorted(view.permitted_accounts)
    assert len(after["permitted"]) == 702
    assert after["allowed_regions"] == list(view.allowed_regions)
    assert after["guarded_actions"] == list(view.guarded_actions)
    assert after["global_inference_profiles"] == view.global_option
    assert after["out_of_region_calls"] == view.profile_option
    assert "and 677 more (702 in all)" in render(review_checked_plan(plan), "markdown")
