"""One reading of a plan: what the review says of each OU and SCP is what the deployments hold.

For every plan fixture and a set of hand-made plans (an SCP over the size
limit with no attachment in the plan, an attachment replaced by one to
another SCP, control parameters widened, an SCP deleted with its
attachments kept, an attachment to an OU below the first tier), the review
is compared with ``from_plan(plan, "before")`` and ``from_plan(plan,
"after")`` computed here: the controls per OU, the SCPs, coverage and the
widening changes, and the gate's reasons are exactly the plan's own rules
and what ``checks`` finds on the deployment after apply.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import plan_fixture, plan_fixtures
from regionguard.cli import main
from regionguard.deployment import Deployment, OuDeployment, from_plan, parameter_values
from regionguard.findings import Finding
from regionguard.planfile import Plan, parse_plan
from regionguard.review import (
    ALLOW_LIST_PARAMETERS,
    PlanReview,
    gate_options,
    plan_reasons,
    review_plan,
    rule_findings,
)
from regionguard.review_format import TEXT_LIST_LIMIT, format_review

REAL = sorted(f.name for f in plan_fixtures("good", "bad"))  # bad-input ones are not plans
BASE = "no-change"  # after the apply: three OUs, each with the SCP and the control
SCP = 'module.bedrock_inference_scp.aws_organizations_policy.this["single"]'
# Another SCP of the state (attachment_replaced).
WIDE = "module.bedrock_inference_scp.aws_organizations_policy.wide"
ATTACHMENT = 'module.bedrock_inference_scp.aws_organizations_policy_attachment.this["{}"]'
CONTROL = 'module.region_deny_control.aws_controltower_control.this["{}"]'
SANDBOX = "ou-nm0b-qyulvlt7"
WORKLOADS = "ou-nm0b-zcc3ffs6"

Data = dict[str, Any]


def fixture(name: str) -> Data:
    data: Data = json.loads((plan_fixture(name) / "plan.json").read_text())
    return data


def changed(data: Data) -> Data:
    """A hand-made plan with changes: Terraform marks such a plan applyable."""
    data["applyable"] = True
    return data


def change(data: Data, address: str) -> Data:
    found: Data = next(rc for rc in data["resource_changes"] if rc["address"] == address)
    return found


def edit_scp(content: str, edit: Callable[[dict[str, Any]], None]) -> str:
    document = json.loads(content)
    edit(document["Statement"][0])
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def permit(accounts: list[str]) -> Callable[[dict[str, Any]], None]:
    def edit(statement: dict[str, Any]) -> None:
        statement["Condition"]["StringNotEquals"]["aws:PrincipalAccount"].extend(accounts)

    return edit


# ---------------------------------------------------------------- hand-made plans


def unattached_scp_over_the_limit() -> Data:
    """The SCP updated to 10,877 characters; no attachment, no control in the plan."""
    data = changed(fixture(BASE))
    policy = change(data, SCP)
    after = copy.deepcopy(policy["change"]["after"])
    accounts = [f"{300000000000 + i:012d}" for i in range(700)]
    after["content"] = edit_scp(after["content"], permit(accounts))
    policy["change"].update(actions=["update"], after=after)
    data["resource_changes"] = [policy]
    return data


def attachment_replaced() -> Data:
    """Workloads' attachment replaced by one to another SCP, in the state, that permits more."""
    data = changed(fixture(BASE))
    policy = change(data, SCP)
    wide = copy.deepcopy(policy)
    wide["address"] = WIDE
    wide.pop("index", None)
    wide["name"] = "wide"
    for side in ("before", "after"):
        wide["change"][side].update(
            id="p-wide0001",
            name="wide",
            content=edit_scp(
                policy["change"][side]["content"],
                permit(["100000000002", "100000000004"]),
            ),
        )
    data["resource_changes"].append(wide)
    att = change(data, ATTACHMENT.format(WORKLOADS))
    att["change"]["actions"] = ["delete", "create"]
    att["change"]["after"] = dict(att["change"]["after"], policy_id="p-wide0001")
    return data


def control_widened() -> Data:
    """Sandbox's control: a Region, an exempted action the SCP guards, a principal added."""
    data = changed(fixture(BASE))
    ctl = change(data, CONTROL.format(SANDBOX))
    ctl["change"]["actions"] = ["update"]
    params = ctl["change"]["after"]["parameters"]
    for p in params:
        values = json.loads(p["value"])
        if p["key"] == "AllowedRegions":
            values.append("eu-west-1")
        p["value"] = json.dumps(values, separators=(",", ":"))
    params.append(
        {"key": "ExemptedPrincipalArns", "value": '["arn:aws:iam::111111111111:role/Admin"]'}
    )
    return data


def scp_deleted_attachments_kept() -> Data:
    data = changed(fixture(BASE))
    policy = change(data, SCP)
    policy["change"].update(actions=["delete"], after=None)
    return data


def attachment_below_the_first_tier() -> Data:
    """The SCP attached to a child OU of Workloads too (not a first-tier OU, no control)."""
    data = changed(fixture(BASE))
    child = "ou-nm0b-child001"
    att = copy.deepcopy(change(data, ATTACHMENT.format(WORKLOADS)))
    att["address"] = ATTACHMENT.format(child)
    att["index"] = child
    att["change"].update(
        actions=["create"],
        before=None,
        after=dict(att["change"]["after"], id=f"{child}:p-d24j8tw2", target_id=child),
    )
    data["resource_changes"].append(att)
    return data


MADE: dict[str, Callable[[], Data]] = {
    "unattached-scp-over-the-limit": unattached_scp_over_the_limit,
    "attachment-replaced": attachment_replaced,
    "control-widened": control_widened,
    "scp-deleted-attachments-kept": scp_deleted_attachments_kept,
    "attachment-below-the-first-tier": attachment_below_the_first_tier,
}


def plans() -> list[tuple[str, Data]]:
    return [(name, fixture(name)) for name in REAL] + [
        (name, make()) for name, make in MADE.items()
    ]


# ---------------------------------------------------------------- the property


def by_id(deployment: Deployment) -> dict[str, OuDeployment]:
    return {item.ou.id: item for item in deployment.ous if item.ou.id is not None}


def controls(deployment: Deployment) -> dict[str, dict[str, tuple[str, ...]]]:
    """OU id -> the control's parameters as a reader sees them (the known ones)."""
    return {
        ou: parameter_values(item.planned_control.raw)
        for ou, item in by_id(deployment).items()
        if item.planned_control is not None
    }


def covered(deployment: Deployment) -> dict[str, tuple[bool, bool]]:
    """OU id -> (has the control, has an SCP attachment)."""
    return {
        ou: (item.planned_control is not None, bool(item.attachments))
        for ou, item in by_id(deployment).items()
    }


def expected_reasons(plan: Plan, before: Deployment, after: Deployment) -> list[Finding]:
    """The plan's own rules, then the errors checks finds on the deployment after apply."""
    found = rule_findings(after, gate_options(plan), plan.source)
    errors = [f for f in found if f.level == "error"]
    return list(dict.fromkeys(plan_reasons(plan, before, after, allow_destroy=False) + errors))


def check_one_reading(plan: Plan, review: PlanReview) -> None:
    before, after = from_plan(plan, "before"), from_plan(plan, "after")

    # The gate: the plan's own rules and the rules over the deployment after apply.
    assert list(review.reasons) == expected_reasons(plan, before, after)

    # Every OU whose control differs is reported, with the deployments' values.
    was, now = controls(before), controls(after)
    changed = {ou for ou in set(was) | set(now) if was.get(ou) != now.get(ou)}
    reported = {c.ou_id: c for c in review.controls}
    assert changed <= set(reported), changed - set(reported)
    for ou, c in reported.items():
        assert ou is not None
        for p in c.parameters:
            assert p.before == was.get(ou, {}).get(p.key)
            if not p.unknown:
                assert p.after == now.get(ou, {}).get(p.key)

    # Every value added to an allow list on an OU that had the control is flagged there.
    flagged = {(w.change, ou) for w in review.widening for ou in w.ous}
    for ou in set(was) & set(now):
        label = (after.find(ou, None) or before.find(ou, None) or by_id(before)[ou]).ou.label()
        for key in ALLOW_LIST_PARAMETERS:
            for value in set(now[ou].get(key, ())) - set(was[ou].get(key, ())):
                assert (f"{key} + {value}", label) in flagged

    # Each SCP the plan changes, as the deployments hold it; accounts it newly permits flagged.
    for s in review.scps:
        old, new = before.policy(s.address), after.policy(s.address)
        assert (s.before.content if s.before else None) == (old.content if old else None)
        assert (s.after.content if s.after else None) == (new.content if new else None)
        if s.before is not None and s.after is not None:
            gained = s.after.permitted_accounts - s.before.permitted_accounts
            flagged_accounts = {
                w.message.split()[1] for w in review.widening if w.subject == f"SCP {s.address}"
            }
            assert gained <= flagged_accounts
        # What the review says of the size is what the gate decides.
        if s.after is not None:
            over = s.after.size > s.size_limit
            size_reasons = [
                r
                for r in review.reasons
                if r.rule_id == "RG-SCP-SIZE" and r.message.startswith(f"{s.address}: ")
            ]
            assert bool(size_reasons) == over, (s.address, s.after.size)

    # Coverage: what the deployments hold, OU by OU.
    cov_before, cov_after = covered(before), covered(after)
    lost = {
        ou
        for ou, (control, attached) in cov_before.items()
        if (control and not cov_after.get(ou, (False, False))[0])
        or (attached and not cov_after.get(ou, (False, False))[1])
    }
    if before.targets is not None and after.targets is not None:
        lost |= set(before.targets) - set(after.targets)
    assert {o.id for o in review.newly_not_covered} == lost
    if after.not_covered_known:
        assert review.not_covered is not None
        assert [o.id for o in review.not_covered] == [ou.id for ou, _ in after.not_covered]
    else:
        assert review.not_covered is None

    # What the plan leaves unknown, attribute by attribute.
    assert [(u.address, u.attribute) for u in review.unknowns] == [
        (u.address, a) for u in after.unknowns for a in u.attributes
    ]


@pytest.mark.parametrize(("name", "data"), plans(), ids=[n for n, _ in plans()])
def test_the_review_and_the_gate_read_the_plan_one_way(name: str, data: Data) -> None:
    plan = parse_plan(json.dumps(data), f"{name}/plan.json")
    check_one_reading(plan, review_plan(plan))


def test_the_property_covers_each_kind_of_plan() -> None:
    assert {"destroy", "exclude-ou", "replace-control", "unknown-control-parameter"} <= set(REAL)
    reviews = {name: review_plan(parse_plan(json.dumps(data), name)) for name, data in plans()}
    assert any(r.newly_not_covered for r in reviews.values())
    assert any(c.action == "update" for r in reviews.values() for c in r.controls)
    assert any(r.unknowns for r in reviews.values())
    assert sum(not r.passed for r in reviews.values()) >= 5


# ---------------------------------------------------------------- the hand-made plans, exactly


def review_of(make: Callable[[], Data]) -> PlanReview:
    return review_plan(parse_plan(json.dumps(make()), "plan.json"))


def test_an_unattached_scp_over_the_limit_fails_the_gate_with_rg_scp_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(unattached_scp_over_the_limit()))

    assert main(["plan-diff", str(path), "--format", "json"]) == 1

    gate = json.loads(capsys.readouterr().out)["gate"]
    assert [(r["rule_id"], r["message"]) for r in gate["reasons"]] == [
        (
            "RG-SCP-SIZE",
            f"{SCP}: the SCP is 10,877 characters, 637 over the 10,240 limit, with 702 "
            "permitted accounts in its list; remove about 43 permitted accounts",
        )
    ]


def test_the_text_of_700_accounts_newly_permitted_shows_20_and_says_where_the_rest_are() -> None:
    text = format_review(review_of(unattached_scp_over_the_limit), "text")
    lines = text.splitlines()
    assert sum(line.startswith("  WIDENING: ") for line in lines) == TEXT_LIST_LIMIT
    assert (
        "  … and 680 more widening changes (700 in all; every one in the markdown or JSON "
        "review (--format markdown or --format json))"
    ) in lines
    permitted = next(line for line in lines if line.startswith("  Accounts newly permitted: "))
    assert permitted.endswith(
        "300000000019 … and 680 more (700 in all; every one in the markdown or JSON review "
        "(--format markdown or --format json))"
    )


def test_an_attachment_replaced_by_one_to_a_wider_scp_is_flagged_on_its_ou() -> None:
    review = review_of(attachment_replaced)
    label = f"{WORKLOADS} (Workloads)"
    change = f"on OU {label}, whose SCPs change from {SCP} to {WIDE}"
    assert [(w.subject, w.message) for w in review.widening] == [
        (f"OU {label}", f"account 100000000002 (payments) newly permitted {change}"),
        (f"OU {label}", f"account 100000000004 (log-archive) newly permitted {change}"),
    ]
    assert [r.rule_id for r in review.reasons] == ["RG-PLAN-DESTROY", "RG-PLAN-GUARD-NARROWED"]


def test_a_destroy_first_replace_of_an_attachment_fails_even_with_allow_destroy() -> None:
    """Between the destroy and the create the OU's exempted actions have no guard."""
    review = review_plan(
        parse_plan(json.dumps(attachment_replaced()), "plan.json"), allow_destroy=True
    )
    [reason] = review.reasons
    assert reason.rule_id == "RG-PLAN-GUARD-NARROWED"
    assert reason.entry == f"{WORKLOADS} (Workloads)"
    assert (
        "exempts bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream, and this plan "
        f"destroys {ATTACHMENT.format(WORKLOADS)} before it creates the new one"
    ) in reason.message
    data = attachment_replaced()
    change(data, ATTACHMENT.format(WORKLOADS))["change"]["actions"] = ["create", "delete"]
    review = review_plan(parse_plan(json.dumps(data), "plan.json"), allow_destroy=True)
    assert review.reasons == ()


def test_control_parameters_widened_are_flagged_each_and_checked() -> None:
    review = review_of(control_widened)
    label = f"{SANDBOX} (Sandbox)"
    assert [w.message for w in review.widening] == [
        f"AllowedRegions + eu-west-1 on OU {label}",
        f"ExemptedPrincipalArns + arn:aws:iam::111111111111:role/Admin on OU {label}",
    ]
    assert review.passed


def test_an_scp_deleted_under_its_attachments_leaves_their_guard_unknown() -> None:
    review = review_of(scp_deleted_attachments_kept)
    assert [w.message for w in review.widening] == ["the SCP is deleted: its denies stop applying"]
    # The guard goes in the same apply (narrowed), and after it none can be told (unguarded).
    assert [r.rule_id for r in review.reasons] == (
        ["RG-PLAN-DESTROY"] + ["RG-PLAN-GUARD-NARROWED"] * 2 + ["RG-CTRL-UNGUARDED"] * 2
    )
    assert "whether an SCP attached to the same OU denies it cannot be told" in (
        review.reasons[3].message
    )


def test_an_attachment_below_the_first_tier_is_a_resource_and_no_widening() -> None:
    review = review_of(attachment_below_the_first_tier)
    assert review.resources["create"] == (ATTACHMENT.format("ou-nm0b-child001"),)
    assert (review.widening, review.reasons, review.newly_not_covered) == ((), (), ())
