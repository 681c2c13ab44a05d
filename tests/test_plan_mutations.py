"""Mutated plans: whenever a plan leaves a door open, the gate fails it.

Each case takes a real plan (the ``good`` plan fixtures and the two plans of
tests/checkov/fixtures/plan, single and per_ou) and breaks what it leaves
after apply in one way, or in two or three ways at once (seeded): a guarded
action taken out of the SCP, the SCP's Deny turned into an Allow, its
Region or account condition changed, a Resource narrowed, an attachment
dropped, moved to another OU, deleted or pointed at another policy, an
exempted action added to a control, an allowed Region taken off a control,
a value left unknown, a policy that is not an SCP, ... Every change is
written both in ``resource_changes`` and in ``planned_values``, as Terraform
would write a plan that really does it.

The oracle is this file's own: it reads the plan's after-state with its own
code (attachments linked to policies by their id, else by the module's
addressing, the way modules/bedrock-inference-scp links them) and asks, with
its own small SCP evaluator (Deny statements, Action / NotAction, Resource,
the string and ARN condition operators; IAM user guide, "Policy evaluation
logic" and "IAM JSON policy elements: Condition operators"), whether an
account that no SCP lists can call an exempted action in a Region the
control does not allow. Whatever the oracle cannot read (an unknown value,
a content that is not JSON, a condition it does not know) counts as open:
the gate must then fail too. The test asserts one direction, the one that
matters: a plan the oracle finds open never passes ``regionguard
plan-diff``. The mutations meant to open the door are tagged, and the oracle
must find each of those open, so that the oracle cannot drift into finding
nothing.
"""

from __future__ import annotations

import copy
import fnmatch
import itertools
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import PLAN_FIXTURES
from regionguard.cli import main

REPO = Path(__file__).resolve().parent.parent
BASES = sorted(
    [
        *(PLAN_FIXTURES / "good").glob("*/plan.json"),
        *(REPO / "tests" / "checkov" / "fixtures" / "plan").glob("*.tfplan.json"),
    ]
)
POLICY = "aws_organizations_policy"
ATTACHMENT = "aws_organizations_policy_attachment"
CONTROL = "aws_controltower_control"
GUARDED = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
# An account no SCP and no variable of any base plan lists.
STRANGER = "999999999999"
PROBE_ACTIONS = (
    *GUARDED,
    "bedrock:CreateAgent",
    "bedrock:ListFoundationModels",
    "bedrock:InvokeAgent",
    "s3:GetObject",
    "ec2:RunInstances",
)
REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
)


# ------------------------------------------------------------------ reading


def _type(rc: dict[str, Any]) -> str:
    return str(rc["type"])


def _gone(rc: dict[str, Any]) -> bool:
    actions = rc["change"]["actions"]
    return actions == ["delete"] or actions == ["forget"] or rc["change"].get("after") is None


def _unknown(rc: dict[str, Any], attribute: str) -> bool:
    unknown = rc["change"].get("after_unknown")
    if unknown is True:
        return True
    value = unknown.get(attribute) if isinstance(unknown, dict) else None
    return value is True or (isinstance(value, list | dict) and "true" in json.dumps(value).lower())


def _params(rc: dict[str, Any], side: str = "after") -> list[dict[str, list[str]]] | None:
    """A control's parameters on one side, each way Control Tower may take them.

    A key given twice with different values may be either (AWS does not say
    which it keeps): one mapping per choice. None when the oracle cannot read them.
    """
    if side == "after" and _unknown(rc, "parameters"):
        return None
    choices: dict[str, list[list[str]]] = {}
    for item in rc["change"][side].get("parameters") or []:
        value = item.get("value")
        try:
            decoded = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return None
        if not isinstance(decoded, list) or not all(isinstance(v, str) for v in decoded):
            return None
        values = choices.setdefault(str(item.get("key")), [])
        if decoded not in values:
            values.append(decoded)
    return [dict(zip(choices, c, strict=True)) for c in itertools.product(*choices.values())]


def _linked_policy(
    att: dict[str, Any], policies: dict[str, dict[str, Any]]
) -> dict[str, Any] | str | None:
    """The policy an attachment attaches after apply; "?" when it cannot be told."""
    after = att["change"]["after"]
    if not _unknown(att, "policy_id"):
        wanted = after.get("policy_id")
        for pol in policies.values():
            for side in ("after", "before"):
                state = pol["change"].get(side)
                if isinstance(state, dict) and state.get("id") == wanted:
                    return pol if not _gone(pol) else None
        return None  # a policy of someone else: none of ours
    # Unknown until apply: the module's addressing (modules/bedrock-inference-scp:
    # attachment this[ou] -> policy this["single"] (0.1.0: this), per_ou[ou] ->
    # per_ou[ou], second_tier[ou] -> second_tier[ou]).
    module = att.get("module_address", "")
    prefix = f"{module}." if module else ""
    name, key = att["name"], att.get("index")
    candidates = [
        f'{prefix}{POLICY}.{name}["{key}"]',
        f'{prefix}{POLICY}.{name}["single"]',
        f"{prefix}{POLICY}.{name}",
    ]
    for address in candidates:
        if address in policies:
            pol = policies[address]
            return None if _gone(pol) else pol
    return "?"


def _condition_holds(operator: str, key: str, values: Any, request: dict[str, str]) -> bool | None:
    """One condition key of a statement on the probe request; None: the oracle does not know it."""
    values = [values] if isinstance(values, str) else values
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        return None
    present = key.lower() in request
    if op == "Null":
        return (values == ["true"]) == (not present) if values in (["true"], ["false"]) else None
    if not present:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        return op.startswith(("StringNot", "ArnNot"))
    actual = request[key.lower()]
    table: dict[str, Callable[[str], bool]] = {
        "StringEquals": lambda v: actual == v,
        "StringEqualsIgnoreCase": lambda v: actual.lower() == v.lower(),
        "StringLike": lambda v: fnmatch.fnmatchcase(actual, v),
        "ArnEquals": lambda v: actual == v,
        "ArnLike": lambda v: fnmatch.fnmatchcase(actual, v),
    }
    negated = {
        "StringNotEquals": "StringEquals",
        "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
        "StringNotLike": "StringLike",
        "ArnNotEquals": "ArnEquals",
        "ArnNotLike": "ArnLike",
    }
    if op in table:
        return any(table[op](v) for v in values)
    if op in negated:
        return not any(table[negated[op]](v) for v in values)
    return None


def _action_matches(pattern: Any, action: str) -> bool:
    return isinstance(pattern, str) and fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _denies(document: Any, request: dict[str, str]) -> bool:
    """True when a Deny statement of the SCP surely applies to the probe request."""
    if not isinstance(document, dict):
        return False
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    for st in statements if isinstance(statements, list) else []:
        if not isinstance(st, dict) or st.get("Effect") != "Deny" or "Principal" in st:
            continue
        if "Action" in st:
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if not any(_action_matches(a, request["action"]) for a in acts):
                continue
        elif "NotAction" in st:
            acts = st["NotAction"] if isinstance(st["NotAction"], list) else [st["NotAction"]]
            if any(_action_matches(a, request["action"]) for a in acts):
                continue
        else:
            continue
        resources = st.get("Resource")
        if resources != "*" and resources != ["*"]:
            continue  # a narrower Resource: not every request of the action
        condition = st.get("Condition", {})
        if not isinstance(condition, dict):
            continue
        holds = True
        for operator, block in condition.items():
            if not isinstance(block, dict):
                holds = False
                break
            for key, values in block.items():
                if _condition_holds(operator, key, values, request) is not True:
                    holds = False
        if holds:
            return True
    return False


def _probes(action: str, region: str) -> Iterator[dict[str, str]]:
    """The stranger's call of ``action`` in ``region``: on a model, and through a profile."""
    call = {
        "action": action,
        "aws:requestedregion": region,
        "aws:principalaccount": STRANGER,
        "aws:principalarn": f"arn:aws:iam::{STRANGER}:role/probe",
    }
    yield call
    if action in GUARDED:
        profile = f"arn:aws:bedrock:{region}:{STRANGER}:inference-profile/us.anthropic.probe"
        yield {**call, "bedrock:inferenceprofilearn": profile}


@dataclass(frozen=True)
class Verdict:
    open: bool
    why: str


def oracle(plan: dict[str, Any]) -> Verdict:
    """Whether the plan leaves an exempted action open to an account no SCP lists.

    Two states are judged. After apply: a call the control exempts outside
    its allowed Regions must be denied by an SCP on the OU. And the moment
    Terraform has made every SCP and attachment change but no control change
    yet (the controls depend on the SCP module): each control still has its
    parameters of before the apply, and an attachment replaced destroy-first
    (``["delete", "create"]``) may be gone; a call open then that the state
    after apply denies is a door open during the apply.
    """
    changes = [rc for rc in plan.get("resource_changes", []) if rc.get("mode") == "managed"]
    policies = {rc["address"]: rc for rc in changes if _type(rc) == POLICY}
    # Terraform creates the new attachments before it deletes old ones only where
    # the module's terraform_data.attachments changes (create_before_destroy);
    # elsewhere an OU losing an attachment may lose it before it gets the new one.
    ordered = {
        rc.get("module_address", "")
        for rc in changes
        if _type(rc) == "terraform_data" and rc["change"]["actions"] != ["no-op"]
    }
    unordered = {
        rc["change"]["before"].get("target_id")
        for rc in changes
        if _type(rc) == ATTACHMENT
        and rc["change"]["actions"] == ["delete"]
        and rc.get("module_address", "") not in ordered
    }
    attached: dict[str, list[Any]] = {}
    meanwhile: dict[str, list[Any]] = {}
    for att in (rc for rc in changes if _type(rc) == ATTACHMENT and not _gone(rc)):
        if _unknown(att, "target_id"):
            return Verdict(True, f"{att['address']}: target unknown")
        pol = _linked_policy(att, policies)
        if pol == "?":
            return Verdict(True, f"{att['address']}: which policy it attaches")
        target = att["change"]["after"].get("target_id")
        attached.setdefault(target, []).append(pol)
        actions = att["change"]["actions"]
        if actions != ["delete", "create"] and not (
            target in unordered and actions in (["create"], ["create", "delete"])
        ):
            meanwhile.setdefault(target, []).append(pol)
    # Each OU's control after apply, every way it may be: two controls on one
    # OU, or a parameter given twice, leave Control Tower to keep either.
    after: dict[str, list[dict[str, list[str]]]] = {}
    for ctl in (rc for rc in changes if _type(rc) == CONTROL and not _gone(rc)):
        if _unknown(ctl, "target_identifier"):
            return Verdict(True, f"{ctl['address']}: target unknown")
        ou = str(ctl["change"]["after"].get("target_identifier", "")).rsplit("/", 1)[-1]
        params = _params(ctl, "after")
        if params is None:
            return Verdict(True, f"{ctl['address']}: parameters unreadable")
        after.setdefault(ou, []).extend(params)
    decided: dict[str, list[Any]] = {}
    for ou, ways in after.items():
        documents = _documents(attached.get(ou, []))
        if isinstance(documents, str):
            return Verdict(True, documents)
        decided[ou] = documents
        for request in (r for params in ways for r in _exempted_calls(params)):
            if not any(_denies(doc, request) for doc in documents):
                return Verdict(True, f"{ou}: {request}")
    for ctl in (rc for rc in changes if _type(rc) == CONTROL):
        before = ctl["change"].get("before")
        if not isinstance(before, dict):
            continue
        ou = str(before.get("target_identifier", "")).rsplit("/", 1)[-1]
        earlier = _params(ctl, "before")
        documents = _documents(meanwhile.get(ou, []))
        if earlier is None or isinstance(documents, str):
            continue  # the state before is not this oracle's to judge
        for request in (r for params in earlier for r in _exempted_calls(params)):
            if any(_denies(doc, request) for doc in documents):
                continue
            later = after.get(ou)
            denied_later = any(_denies(doc, request) for doc in decided.get(ou, [])) or (
                bool(later) and all(_control_denies(params, request) for params in later or [])
            )
            if denied_later:
                return Verdict(True, f"during apply: {ou}: {request}")
    return Verdict(False, "closed")


def _control_denies(params: dict[str, list[str]], request: dict[str, str]) -> bool:
    """Whether a control with ``params`` denies the request (out of Region, not exempted)."""
    return request["aws:requestedregion"] not in params.get("AllowedRegions", []) and not any(
        _action_matches(e, request["action"]) for e in params.get("ExemptedActions", [])
    )


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("a key written twice")
    return dict(pairs)


def _documents(policies: list[Any]) -> list[Any] | str:
    """The SCP documents of attached policies; a string says why the oracle cannot read one."""
    documents = []
    for pol in policies:
        if pol is None:
            continue
        state = pol["change"]["after"]
        if state.get("type", "SERVICE_CONTROL_POLICY") != "SERVICE_CONTROL_POLICY":
            continue
        if _unknown(pol, "content"):
            return f"{pol['address']}: content unknown"
        try:
            # A key written twice: AWS may read either value, so the oracle reads neither.
            documents.append(json.loads(state.get("content"), object_pairs_hook=_once))
        except (TypeError, ValueError):
            return f"{pol['address']}: content not JSON"
    return documents


def _exempted_calls(params: dict[str, list[str]]) -> Iterator[dict[str, str]]:
    """The stranger's calls a control with ``params`` lets through (exempted, out of Region)."""
    exempted = params.get("ExemptedActions", [])
    allowed = params.get("AllowedRegions", [])
    for action in PROBE_ACTIONS:
        if not any(_action_matches(e, action) for e in exempted):
            continue
        for region in REGIONS:
            if region not in allowed:
                yield from _probes(action, region)


# ------------------------------------------------------------- mutations


def _all(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [rc for rc in plan["resource_changes"] if _type(rc) == kind and not _gone(rc)]


def _planned_modules(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """planned_values' root module and every module below it."""
    stack = [plan.get("planned_values", {}).get("root_module", {})]
    while stack:
        module = stack.pop()
        yield module
        stack.extend(module.get("child_modules", []))


def _planned(plan: dict[str, Any], address: str) -> dict[str, Any] | None:
    """The resource of planned_values at an address (any module depth)."""
    resources = (r for m in _planned_modules(plan) for r in m.get("resources", []))
    return next((r for r in resources if r.get("address") == address), None)


def _set_after(plan: dict[str, Any], rc: dict[str, Any], key: str, value: Any) -> None:
    """One attribute after apply, known, in resource_changes and planned_values alike."""
    rc["change"]["after"][key] = value
    unknown = rc["change"].get("after_unknown")
    if isinstance(unknown, dict):
        unknown.pop(key, None)
    planned = _planned(plan, rc["address"])
    if planned is not None:
        planned.setdefault("values", {})[key] = value


def _set_unknown(plan: dict[str, Any], rc: dict[str, Any], key: str) -> None:
    rc["change"]["after"].pop(key, None)
    if not isinstance(rc["change"].get("after_unknown"), dict):
        rc["change"]["after_unknown"] = {}
    rc["change"]["after_unknown"][key] = True
    planned = _planned(plan, rc["address"])
    if planned is not None:
        planned.get("values", {}).pop(key, None)


def _drop(plan: dict[str, Any], rc: dict[str, Any]) -> None:
    """The resource is not in the plan at all."""
    plan["resource_changes"].remove(rc)
    _drop_planned(plan, rc["address"])


def _delete(plan: dict[str, Any], rc: dict[str, Any]) -> None:
    """The plan deletes the object: it is there before, gone after."""
    if rc["change"].get("before") is None:
        rc["change"]["before"] = copy.deepcopy(rc["change"]["after"])
        rc["change"]["before"].setdefault("id", f"existing-{rc['address']}")
        if _type(rc) == ATTACHMENT:
            # Known before: the policy it attached (unknown in a create's after).
            rc["change"]["before"].setdefault("policy_id", "p-existing")
    rc["change"]["actions"] = ["delete"]
    rc["change"]["after"] = None
    rc["change"]["after_unknown"] = {}
    _drop_planned(plan, rc["address"])


def _drop_planned(plan: dict[str, Any], address: str) -> None:
    """No resource at ``address`` after apply, in planned_values."""
    for module in _planned_modules(plan):
        if "resources" in module:
            module["resources"] = [r for r in module["resources"] if r.get("address") != address]


def _guard(document: dict[str, Any]) -> dict[str, Any]:
    """The SCP's statement that denies the guarded actions."""
    statements = document["Statement"]
    if not isinstance(statements, list):
        raise KeyError("Statement")
    return next(
        s
        for s in statements
        if isinstance(s, dict)
        and isinstance(s.get("Action"), list)
        and any(a in s["Action"] for a in GUARDED)
        and s.get("Effect") == "Deny"
    )


def _edit_param(
    plan: dict[str, Any], ctl: dict[str, Any], key: str, edit: Callable[[list[str]], list[str]]
) -> None:
    if _unknown(ctl, "parameters"):
        return
    params = copy.deepcopy(ctl["change"]["after"].get("parameters") or [])
    for item in params:
        if item.get("key") == key:
            value = item["value"]
            values = json.loads(value) if isinstance(value, str) else value
            new = edit(list(values))
            item["value"] = (
                json.dumps(new, separators=(",", ":")) if isinstance(value, str) else new
            )
    _set_after(plan, ctl, "parameters", params)
    if ctl["change"]["actions"] == ["no-op"]:
        ctl["change"]["actions"] = ["update"]


@dataclass(frozen=True)
class Mutation:
    name: str
    # "open": meant to open the door (the oracle must agree); "either": may or may not.
    meant: str
    apply: Callable[[dict[str, Any], random.Random], bool]


def _on_policy(
    edit: Callable[[dict[str, Any]], Any],
) -> Callable[[dict[str, Any], random.Random], bool]:
    def apply(plan: dict[str, Any], rnd: random.Random) -> bool:
        if not _all(plan, ATTACHMENT):
            return False
        picked = _document(plan, rnd)
        if picked is None:
            return False
        pol, document = picked
        try:
            statement = _guard(document)
        except (TypeError, KeyError, StopIteration):
            return False  # an earlier mutation left no guard statement to change
        edit(statement)
        _set_after(plan, pol, "content", json.dumps(document))
        if pol["change"]["actions"] == ["no-op"]:
            pol["change"]["actions"] = ["update"]
        return True

    return apply


def _remove_action(action: str) -> Callable[[dict[str, Any]], None]:
    def edit(st: dict[str, Any]) -> None:
        st["Action"] = [a for a in st["Action"] if a != action]

    return edit


def _condition_edit(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(st: dict[str, Any]) -> None:
        fn(st.setdefault("Condition", {}))

    return edit


def _rename_key(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def fn(condition: dict[str, Any]) -> None:
        for block in condition.values():
            if old in block:
                block[new] = block.pop(old)

    return fn


def _rename_operator(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def fn(condition: dict[str, Any]) -> None:
        if old in condition:
            condition[new] = condition.pop(old)

    return fn


def _add_region(condition: dict[str, Any]) -> None:
    for block in condition.values():
        for key, values in block.items():
            if key == "aws:RequestedRegion" and isinstance(values, list):
                missing = [r for r in REGIONS if r not in values]
                values.append(missing[0])


def _permit_everyone(condition: dict[str, Any]) -> None:
    """A literal "*": StringNotEquals does not match patterns, so no account is spared."""
    for block in condition.values():
        if "aws:PrincipalAccount" in block:
            block["aws:PrincipalAccount"] = ["*"]


def _permit_everyone_like(condition: dict[str, Any]) -> None:
    """The permitted accounts as StringNotLike patterns, one of them "9*"."""
    accounts: list[str] = []
    for operator in list(condition):
        block = condition[operator]
        if "aws:PrincipalAccount" in block:
            accounts = block.pop("aws:PrincipalAccount")
            if not block:
                del condition[operator]
    condition.setdefault("StringNotLike", {})["aws:PrincipalAccount"] = [*accounts, "9*"]


def _extra_condition(condition: dict[str, Any]) -> None:
    condition.setdefault("StringEquals", {})["aws:PrincipalTag/team"] = "ml"


def _on_attachment(
    edit: Callable[[dict[str, Any], dict[str, Any], random.Random], bool],
) -> Callable[[dict[str, Any], random.Random], bool]:
    def apply(plan: dict[str, Any], rnd: random.Random) -> bool:
        atts = _all(plan, ATTACHMENT)
        if not atts:
            return False
        return edit(plan, rnd.choice(atts), rnd)

    return apply


def _controlled_ous(plan: dict[str, Any]) -> list[str]:
    return [
        str(c["change"]["after"].get("target_identifier", "")).rsplit("/", 1)[-1]
        for c in _all(plan, CONTROL)
        if not _unknown(c, "target_identifier")
    ]


def _retarget(plan: dict[str, Any], att: dict[str, Any], rnd: random.Random) -> bool:
    if _unknown(att, "target_id"):
        return False
    here = att["change"]["after"]["target_id"]
    others = [o for o in _controlled_ous(plan) if o != here]
    if not others:
        return False
    _set_after(plan, att, "target_id", rnd.choice(others))
    return True


def _to_root(plan: dict[str, Any], att: dict[str, Any], rnd: random.Random) -> bool:
    _set_after(plan, att, "target_id", "r-nm0b")
    return True


def _foreign_policy(plan: dict[str, Any], att: dict[str, Any], rnd: random.Random) -> bool:
    _set_after(plan, att, "policy_id", "p-someoneelse")
    return True


def _drop_attachment(plan: dict[str, Any], att: dict[str, Any], rnd: random.Random) -> bool:
    _drop(plan, att)
    return True


def _delete_attachment(plan: dict[str, Any], att: dict[str, Any], rnd: random.Random) -> bool:
    _delete(plan, att)
    return True


def _unknown_target(plan: dict[str, Any], att: dict[str, Any], rnd: random.Random) -> bool:
    _set_unknown(plan, att, "target_id")
    return True


def _on_control(
    edit: Callable[[dict[str, Any], dict[str, Any], random.Random], bool],
) -> Callable[[dict[str, Any], random.Random], bool]:
    def apply(plan: dict[str, Any], rnd: random.Random) -> bool:
        ctls = [c for c in _all(plan, CONTROL) if not _unknown(c, "parameters")]
        if not ctls:
            return False
        return edit(plan, rnd.choice(ctls), rnd)

    return apply


def _exempt(action: str) -> Callable[[dict[str, Any], dict[str, Any], random.Random], bool]:
    def edit(plan: dict[str, Any], ctl: dict[str, Any], rnd: random.Random) -> bool:
        _edit_param(plan, ctl, "ExemptedActions", lambda v: [*v, action])
        return True

    return edit


def _drop_allowed_region(plan: dict[str, Any], ctl: dict[str, Any], rnd: random.Random) -> bool:
    def edit(values: list[str]) -> list[str]:
        home = plan["variables"].get("home_region", {}).get("value")
        keep = [r for r in values if r == home]
        rest = [r for r in values if r != home]
        return keep + rest[1:] if rest else values

    _edit_param(plan, ctl, "AllowedRegions", edit)
    return True


def _unknown_parameters(plan: dict[str, Any], ctl: dict[str, Any], rnd: random.Random) -> bool:
    _set_unknown(plan, ctl, "parameters")
    return True


def _control_elsewhere(plan: dict[str, Any], ctl: dict[str, Any], rnd: random.Random) -> bool:
    arn = str(ctl["change"]["after"].get("target_identifier", ""))
    _set_after(plan, ctl, "target_identifier", arn.rsplit("/", 1)[0] + "/ou-nm0b-elsewhere")
    return True


def _parameter_twice(
    value: list[str], first: bool
) -> Callable[[dict[str, Any], dict[str, Any], random.Random], bool]:
    """ExemptedActions given again, with ``value``: before the first (``first``) or after it."""

    def edit(plan: dict[str, Any], ctl: dict[str, Any], rnd: random.Random) -> bool:
        params = copy.deepcopy(ctl["change"]["after"].get("parameters") or [])
        extra = {"key": "ExemptedActions", "value": json.dumps(value, separators=(",", ":"))}
        params.insert(0 if first else len(params), extra)
        _set_after(plan, ctl, "parameters", params)
        if ctl["change"]["actions"] == ["no-op"]:
            ctl["change"]["actions"] = ["update"]
        return True

    return edit


def _second_control(
    exempted: list[str], first: bool
) -> Callable[[dict[str, Any], dict[str, Any], random.Random], bool]:
    """Another Region deny control on the same OU, exempting ``exempted``, first or last.

    First or last in the plan's lists decides which of the two a reader that
    keeps one control per OU would keep.
    """

    def edit(plan: dict[str, Any], ctl: dict[str, Any], rnd: random.Random) -> bool:
        after = ctl["change"]["after"]
        params = [p for p in after.get("parameters") or [] if p.get("key") == "AllowedRegions"]
        if exempted:
            params.append({"key": "ExemptedActions", "value": json.dumps(exempted)})
        values = {**after, "parameters": params}
        key = str(len(_all(plan, CONTROL)))  # a new address each time
        second = {
            "address": f'aws_controltower_control.second["{key}"]',
            "mode": "managed",
            "type": CONTROL,
            "name": "second",
            "index": key,
            "provider_name": ctl.get("provider_name", "registry.terraform.io/hashicorp/aws"),
            "change": {
                "actions": ["create"],
                "before": None,
                "after": values,
                "after_unknown": {"arn": True, "id": True},
                "before_sensitive": False,
                "after_sensitive": {},
            },
        }
        planned = {
            k: second[k] for k in ("address", "mode", "type", "name", "index", "provider_name")
        }
        planned["values"] = values
        root = plan.setdefault("planned_values", {}).setdefault("root_module", {})
        for items, item in (
            (plan["resource_changes"], second),
            (root.setdefault("resources", []), planned),
        ):
            items.insert(0 if first else len(items), item)
        return True

    return edit


def _policy_gone(
    remove: Callable[[dict[str, Any], dict[str, Any]], None],
) -> Callable[[dict[str, Any], random.Random], bool]:
    """One of the plan's SCPs deleted by the plan (``_delete``) or absent from it (``_drop``)."""

    def apply(plan: dict[str, Any], rnd: random.Random) -> bool:
        pols = _all(plan, POLICY)
        if not pols:
            return False
        remove(plan, rnd.choice(pols))
        return True

    return apply


def _policy_unknown(plan: dict[str, Any], rnd: random.Random) -> bool:
    pols = _all(plan, POLICY)
    if not pols:
        return False
    _set_unknown(plan, rnd.choice(pols), "content")
    return True


def _policy_type(kind: str) -> Callable[[dict[str, Any], random.Random], bool]:
    def apply(plan: dict[str, Any], rnd: random.Random) -> bool:
        pols = _all(plan, POLICY)
        if not pols:
            return False
        _set_after(plan, rnd.choice(pols), "type", kind)
        return True

    return apply


def _content_text(text: str) -> Callable[[dict[str, Any], random.Random], bool]:
    def apply(plan: dict[str, Any], rnd: random.Random) -> bool:
        pols = [p for p in _all(plan, POLICY) if not _unknown(p, "content")]
        if not pols:
            return False
        _set_after(plan, rnd.choice(pols), "content", text)
        return True

    return apply


def _written_twice(old: str, new: str) -> Callable[[dict[str, Any], random.Random], bool]:
    """One SCP's text with ``old`` (once) replaced by ``new``, which writes a key twice."""

    def apply(plan: dict[str, Any], rnd: random.Random) -> bool:
        pols = [
            p
            for p in _all(plan, POLICY)
            if not _unknown(p, "content") and old in str(p["change"]["after"].get("content"))
        ]
        if not pols:
            return False
        pol = rnd.choice(pols)
        _set_after(plan, pol, "content", pol["change"]["after"]["content"].replace(old, new, 1))
        return True

    return apply


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(st: dict[str, Any]) -> None:
        st[key] = value

    return edit


def _not_action(st: dict[str, Any]) -> None:
    st["NotAction"] = st.pop("Action")


def _no_condition(st: dict[str, Any]) -> None:
    st.pop("Condition", None)


def _document(plan: dict[str, Any], rnd: random.Random) -> tuple[dict[str, Any], Any] | None:
    """One of the plan's SCPs whose content is known JSON, and that content decoded."""
    pols = [p for p in _all(plan, POLICY) if not _unknown(p, "content")]
    if not pols:
        return None
    pol = rnd.choice(pols)
    try:
        return pol, json.loads(pol["change"]["after"]["content"])
    except (TypeError, ValueError):
        return None  # an earlier mutation broke it


def _lower_actions(st: dict[str, Any]) -> None:
    st["Action"] = [a.lower() for a in st["Action"]]


def _key_case(condition: dict[str, Any]) -> None:
    for block in condition.values():
        if "aws:RequestedRegion" in block:
            block["AWS:RequestedRegion"] = block.pop("aws:RequestedRegion")


def _if_exists(condition: dict[str, Any]) -> None:
    if "StringNotEquals" in condition:
        condition["StringNotEqualsIfExists"] = condition.pop("StringNotEquals")


def _with_principal(st: dict[str, Any]) -> None:
    st["Principal"] = {"AWS": f"arn:aws:iam::{STRANGER}:root"}


def _one_statement_object(plan: dict[str, Any], rnd: random.Random) -> bool:
    picked = _document(plan, rnd)
    if picked is None:
        return False
    pol, document = picked
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("Statement"), list)
        or len(document["Statement"]) != 1
    ):
        return False
    document["Statement"] = document["Statement"][0]
    _set_after(plan, pol, "content", json.dumps(document))
    return True


def _allow_all_added(plan: dict[str, Any], rnd: random.Random) -> bool:
    picked = _document(plan, rnd)
    if picked is None:
        return False
    pol, document = picked
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
        return False
    document["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})
    _set_after(plan, pol, "content", json.dumps(document))
    return True


def _exempted_unknown(plan: dict[str, Any], ctl: dict[str, Any], rnd: random.Random) -> bool:
    """Only the value of ExemptedActions left unknown, as a computed parameter would be."""
    params = ctl["change"]["after"].get("parameters") or []
    unknown = []
    for item in params:
        if item.get("key") == "ExemptedActions":
            item.pop("value", None)
            unknown.append({"value": True})
        else:
            unknown.append({})
    if not isinstance(ctl["change"].get("after_unknown"), dict):
        ctl["change"]["after_unknown"] = {}
    ctl["change"]["after_unknown"]["parameters"] = unknown
    planned = _planned(plan, ctl["address"])
    if planned is not None:
        planned.setdefault("values", {})["parameters"] = params
    return True


def _replace(plan: dict[str, Any], att: dict[str, Any], rnd: random.Random) -> bool:
    if att["change"].get("before") is None:
        return False
    att["change"]["actions"] = ["delete", "create"]
    return True


def _forget(plan: dict[str, Any], att: dict[str, Any], rnd: random.Random) -> bool:
    """A removed block with destroy = false: Terraform stops managing the object, AWS keeps it."""
    if att["change"].get("before") is None:
        return False
    att["change"]["actions"] = ["forget"]
    att["change"]["after"] = None
    att["change"]["after_unknown"] = {}
    _drop_planned(plan, att["address"])
    return True


def _narrowed_in_one_apply(plan: dict[str, Any], rnd: random.Random) -> bool:
    """The streaming action out of the SCP and out of the controls' exemptions, in one plan."""
    controls = [c for c in _all(plan, CONTROL) if isinstance(c["change"].get("before"), dict)]
    if not controls or not _on_policy(_remove_action(GUARDED[1]))(plan, rnd):
        return False
    for ctl in controls:
        _edit_param(plan, ctl, "ExemptedActions", lambda v: [a for a in v if a != GUARDED[1]])
    return True


def _without_ordering(plan: dict[str, Any], rnd: random.Random) -> bool:
    """A plan that deletes attachments without the module's terraform_data.attachments."""
    ordering = [rc for rc in plan["resource_changes"] if _type(rc) == "terraform_data"]
    deletes = [
        rc
        for rc in plan["resource_changes"]
        if _type(rc) == ATTACHMENT and rc["change"]["actions"] == ["delete"]
    ]
    if not ordering or not deletes:
        return False
    for rc in ordering:
        _drop(plan, rc)
    return True


MUTATIONS = [
    Mutation("scp-drop-invoke", "open", _on_policy(_remove_action("bedrock:InvokeModel"))),
    Mutation(
        "scp-drop-stream",
        "open",
        _on_policy(_remove_action("bedrock:InvokeModelWithResponseStream")),
    ),
    Mutation("scp-allow", "open", _on_policy(_set("Effect", "Allow"))),
    Mutation("scp-not-action", "open", _on_policy(_not_action)),
    Mutation(
        "scp-resource-narrowed",
        "open",
        _on_policy(_set("Resource", "arn:aws:bedrock:*::foundation-model/anthropic.*")),
    ),
    Mutation("scp-converse-only", "open", _on_policy(_set("Action", ["bedrock:Converse"]))),
    Mutation("scp-invoke-star", "either", _on_policy(_set("Action", ["bedrock:Invoke*"]))),
    Mutation("scp-bedrock-star", "either", _on_policy(_set("Action", "bedrock:*"))),
    Mutation("scp-no-condition", "either", _on_policy(_no_condition)),
    Mutation(
        "scp-source-account",
        "either",
        _on_policy(_condition_edit(_rename_key("aws:PrincipalAccount", "aws:SourceAccount"))),
    ),
    Mutation(
        "scp-string-equals",
        "open",
        _on_policy(_condition_edit(_rename_operator("StringNotEquals", "StringEquals"))),
    ),
    Mutation(
        "scp-region-key",
        "either",
        _on_policy(_condition_edit(_rename_key("aws:RequestedRegion", "aws:SourceRegion"))),
    ),
    Mutation("scp-extra-region", "open", _on_policy(_condition_edit(_add_region))),
    Mutation("scp-permit-everyone", "either", _on_policy(_condition_edit(_permit_everyone))),
    Mutation("scp-permit-pattern", "open", _on_policy(_condition_edit(_permit_everyone_like))),
    Mutation("scp-extra-condition", "open", _on_policy(_condition_edit(_extra_condition))),
    Mutation("scp-content-unknown", "open", _policy_unknown),
    Mutation("scp-content-not-json", "open", _content_text('{"Version": "2012-10-17", ')),
    Mutation(
        "scp-empty-statements", "open", _content_text('{"Version":"2012-10-17","Statement":[]}')
    ),
    Mutation("scp-tag-policy", "open", _policy_type("TAG_POLICY")),
    Mutation("scp-deleted", "open", _policy_gone(_delete)),
    Mutation("scp-missing", "open", _policy_gone(_drop)),
    Mutation("attachment-dropped", "open", _on_attachment(_drop_attachment)),
    Mutation("attachment-deleted", "open", _on_attachment(_delete_attachment)),
    Mutation("attachment-retargeted", "open", _on_attachment(_retarget)),
    Mutation("attachment-to-root", "open", _on_attachment(_to_root)),
    Mutation("attachment-foreign-policy", "open", _on_attachment(_foreign_policy)),
    Mutation("attachment-target-unknown", "open", _on_attachment(_unknown_target)),
    Mutation("control-exempts-converse", "open", _on_control(_exempt("bedrock:CreateAgent"))),
    Mutation("control-exempts-bedrock-star", "open", _on_control(_exempt("bedrock:*"))),
    Mutation("control-exempts-s3", "open", _on_control(_exempt("s3:GetObject"))),
    Mutation("control-exempts-invoke-star", "either", _on_control(_exempt("bedrock:Invoke*"))),
    Mutation("control-region-dropped", "open", _on_control(_drop_allowed_region)),
    Mutation("control-parameters-unknown", "open", _on_control(_unknown_parameters)),
    Mutation("control-moved", "open", _on_control(_control_elsewhere)),
    Mutation("control-exempted-unknown", "open", _on_control(_exempted_unknown)),
    Mutation("control-exempts-upper-case", "either", _on_control(_exempt("BEDROCK:INVOKEMODEL"))),
    Mutation("scp-actions-lower-case", "either", _on_policy(_lower_actions)),
    Mutation("scp-condition-key-case", "either", _on_policy(_condition_edit(_key_case))),
    Mutation("scp-if-exists", "either", _on_policy(_condition_edit(_if_exists))),
    Mutation("scp-principal", "open", _on_policy(_with_principal)),
    Mutation("scp-statement-object", "either", _one_statement_object),
    Mutation("scp-allow-all-added", "either", _allow_all_added),
    Mutation("attachment-replaced", "open", _on_attachment(_replace)),
    Mutation("attachment-forgotten", "either", _on_attachment(_forget)),
    Mutation("guard-and-exemption-dropped-at-once", "open", _narrowed_in_one_apply),
    Mutation("switch-without-ordering", "either", _without_ordering),
    Mutation(
        "scp-effect-written-twice",
        "open",
        _written_twice('"Effect":"Deny"', '"Effect":"Allow","Effect":"Deny"'),
    ),
    Mutation(
        "scp-statement-written-twice",
        "open",
        _written_twice(
            '"Statement":[',
            '"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}],"Statement":[',
        ),
    ),
    *(
        m
        for where, first in (("first", True), ("last", False))
        for m in (
            Mutation(
                f"control-parameter-twice-{where}",
                "open",
                _on_control(_parameter_twice(["bedrock:CreateAgent"], first)),
            ),
            Mutation(
                f"control-parameter-twice-empty-{where}",
                "either",
                _on_control(_parameter_twice([], first)),
            ),
            Mutation(
                f"control-twice-on-ou-{where}", "either", _on_control(_second_control([], first))
            ),
            Mutation(
                f"control-twice-exempting-more-{where}",
                "open",
                _on_control(_second_control(["bedrock:CreateAgent"], first)),
            ),
        )
    ),
]


@dataclass(frozen=True)
class Case:
    base: Path
    mutations: tuple[Mutation, ...]
    seed: int

    @property
    def id(self) -> str:
        return (
            f"{self.base.parent.name if self.base.name == 'plan.json' else self.base.stem}:"
            + "+".join(m.name for m in self.mutations)
            + f":{self.seed}"
        )


def _cases() -> list[Case]:
    cases = [Case(base, (m,), 0) for base in BASES for m in MUTATIONS]
    rnd = random.Random(20261206)
    for seed in range(1, 241):
        base = rnd.choice(BASES)
        picked = tuple(rnd.sample(MUTATIONS, rnd.choice((2, 3))))
        cases.append(Case(base, picked, seed))
    return cases


def _mutated(case: Case) -> tuple[dict[str, Any], bool]:
    plan = json.loads(case.base.read_text())
    rnd = random.Random(case.seed)
    applied = [m.apply(plan, rnd) for m in case.mutations]
    if any(rc["change"]["actions"] != ["no-op"] for rc in plan["resource_changes"]):
        plan["applyable"] = True  # as Terraform writes any plan with changes
    return plan, any(applied)


# Only the cases whose mutations change their base plan.
CASES = [case for case in _cases() if _mutated(case)[1]]


def _args(base: Path) -> list[str]:
    """The base fixture's own plan-diff arguments (its ``args`` file), e.g. --allow-destroy."""
    args = base.parent / "args"
    return args.read_text().split() if base.name == "plan.json" and args.is_file() else []


def _gate(
    plan: dict[str, Any], base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any] | str]:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    code = main(["plan-diff", str(path), "--format", "json", *_args(base)])
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out)
    except ValueError:
        return code, out + err


@pytest.mark.parametrize(
    "base", BASES, ids=lambda p: p.parent.name if p.name == "plan.json" else p.stem
)
def test_each_base_plan_passes_and_the_oracle_finds_it_closed(
    base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = json.loads(base.read_text())
    assert oracle(plan) == Verdict(False, "closed")
    code, _ = _gate(plan, base, tmp_path, capsys)
    assert code == 0


def test_the_oracle_finds_every_mutation_meant_to_open_the_door_open() -> None:
    """Binds the oracle to the mutations' intent: it must not drift into finding nothing."""
    missed = []
    applied = 0
    for case in CASES:
        if len(case.mutations) != 1 or case.mutations[0].meant != "open":
            continue
        plan, _ = _mutated(case)
        applied += 1
        if not oracle(plan).open:
            missed.append(case.id)
    assert applied > 300
    assert missed == []


def test_a_layout_switch_without_its_ordering_fails_the_gate_naming_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without terraform_data.attachments nothing orders the old attachments' deletes last."""
    base = PLAN_FIXTURES / "good" / "switch-to-per-ou" / "plan.json"
    plan = json.loads(base.read_text())
    assert _without_ordering(plan, random.Random(0))
    assert oracle(plan).open
    code, review = _gate(plan, base, tmp_path, capsys)
    assert code == 1
    assert isinstance(review, dict)
    reasons = [r for r in review["gate"]["reasons"] if r["rule_id"] == "RG-PLAN-GUARD-NARROWED"]
    assert len({r["entry"] for r in reasons}) == len(reasons) == 3  # one per OU switched
    for reason in reasons:
        assert (
            "while nothing in the plan makes Terraform attach the SCPs that replace it"
            in (reason["message"])
        )
    assert "new SCP is attached before the old one" not in json.dumps(review)


@pytest.mark.parametrize(
    ("edit", "gate_says", "unknown_says"),
    [
        (
            _parameter_twice([], first=False),
            "parameters.ExemptedActions of the Region deny control is given twice",
            "control parameters.ExemptedActions (given twice)",
        ),
        (
            _second_control([], first=False),
            "is the same as another Region deny control's",
            "a second Region deny control on this OU",
        ),
    ],
    ids=["parameter-twice", "control-twice"],
)
def test_a_value_given_twice_is_refused_by_the_gate_the_proof_and_the_facts(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[dict[str, Any], dict[str, Any], random.Random], bool],
    gate_says: str,
    unknown_says: str,
) -> None:
    """The second value comes last, where a reader keeping one would keep the harmless one."""
    base = PLAN_FIXTURES / "good" / "create-all-ous" / "plan.json"
    plan = json.loads(base.read_text())
    assert edit(plan, _all(plan, CONTROL)[0], random.Random(0))
    code, review = _gate(plan, base, tmp_path, capsys)
    assert code == 1
    assert isinstance(review, dict)
    reasons = review["gate"]["reasons"]
    # The second control, at the root with no depends_on, may also come before
    # the SCPs (RG-PLAN-GUARD-NARROWED); the value given twice is unknown.
    unknown = [r for r in reasons if r["rule_id"] == "RG-PLAN-UNKNOWN"]
    assert len(unknown) == 1, reasons
    assert {r["rule_id"] for r in reasons} <= {"RG-PLAN-UNKNOWN", "RG-PLAN-GUARD-NARROWED"}
    assert gate_says in unknown[0]["message"]
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(plan))
    for argv in (["prove"], ["verify", "--sandbox", "skip"]):
        assert main([*argv, "--env", "local", "--plan", str(path)]) == 2
        err = capsys.readouterr().err
        assert "unknown until apply, so no decision can be made" in err
        assert unknown_says in err


def _shuffled(plan: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """The same plan with its lists in another order: resources, modules, control parameters."""
    out: dict[str, Any] = copy.deepcopy(plan)
    rnd.shuffle(out["resource_changes"])
    values = [
        rc["change"].get(side) for rc in out["resource_changes"] for side in ("before", "after")
    ]
    for module in _planned_modules(out):
        rnd.shuffle(module.get("resources", []))
        rnd.shuffle(module.get("child_modules", []))
        values += [r.get("values") for r in module.get("resources", [])]
    for rc in out["resource_changes"]:
        if isinstance(rc["change"].get("after_unknown", {}).get("parameters"), list):
            return out  # unknown markers follow the parameters' order: leave them
    for value in values:
        if isinstance(value, dict) and isinstance(value.get("parameters"), list):
            rnd.shuffle(value["parameters"])
    return out


def _verdict(code: int, review: dict[str, Any] | str) -> tuple[int, set[str]]:
    rules = {r["rule_id"] for r in review["gate"]["reasons"]} if isinstance(review, dict) else set()
    return code, rules


@pytest.mark.parametrize("case", CASES[::3], ids=lambda c: c.id)
def test_the_gate_s_verdict_does_not_depend_on_the_order_of_the_plan_s_lists(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Terraform's lists carry no meaning in their order; nor may the gate's reading of them."""
    plan, _ = _mutated(case)
    shuffled = _shuffled(plan, random.Random(case.seed + 1))
    assert _verdict(*_gate(shuffled, case.base, tmp_path, capsys)) == _verdict(
        *_gate(plan, case.base, tmp_path, capsys)
    )


# Values no provider writes where the gate reads a string, a list or an object.
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    1.5,
    "",
    "x",
    [],
    {},
    ["a"],
    {"a": 1},
    [None],
    "[]",
    '["bedrock:*"]',
    "arn:aws:organizations::1:account/o-x/1",
    "r-nm0b",
]


def _value_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _value_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _value_paths(v, (*prefix, i))


def _odd_value(seed: int) -> tuple[Path, dict[str, Any], str]:
    """A base plan with one value of a guarded resource (before or after) made odd."""
    rnd = random.Random(seed)
    base = rnd.choice(BASES)
    plan = json.loads(base.read_text())
    rc = rnd.choice([rc for rc in _guarded_changes(plan) if rc["change"].get("after")])
    side = rnd.choice([s for s in ("before", "after") if isinstance(rc["change"].get(s), dict)])
    path = rnd.choice(list(_value_paths(rc["change"][side])))
    value = copy.deepcopy(rnd.choice(ODD_VALUES))
    # planned_values holds the state after apply: the same value there too.
    planned = (_planned(plan, rc["address"]) or {}).get("values")
    places: list[Any] = [rc["change"][side]] + ([planned] if side == "after" else [])
    for where in places:
        try:
            for step in path[:-1]:
                where = where[step]
            where[path[-1]] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError):
            pass
    return base, plan, f"{rc['address']} {side} {path} = {value!r}"


def _guarded_changes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [rc for rc in plan["resource_changes"] if _type(rc) in (POLICY, ATTACHMENT, CONTROL)]


@pytest.mark.parametrize("seed", range(300))
def test_an_odd_value_is_refused_or_judged_never_passed_open_nor_a_crash(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value of a type the provider does not write: exit 2, or judged as the oracle judges."""
    base, plan, what = _odd_value(seed)
    try:
        opened = oracle(plan).open
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        opened = True  # the oracle cannot read it: nor may the gate pass it
    code, review = _gate(plan, base, tmp_path, capsys)
    assert code in (0, 1, 2), (what, review)
    if opened:
        assert code != 0, f"{what}: open, but the gate passed"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_a_plan_that_leaves_a_door_open_fails_the_gate(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, _ = _mutated(case)
    verdict = oracle(plan)
    code, review = _gate(plan, case.base, tmp_path, capsys)
    assert code in (0, 1, 2), review
    if verdict.open:
        assert code != 0, f"door open ({verdict.why}) but the gate passed"


def test_docs_plan_gate_md_counts_this_corpus_as_it_is() -> None:
    text = " ".join((REPO / "docs" / "plan-gate.md").read_text().split())
    combined = sum(len(case.mutations) > 1 for case in CASES)
    assert (
        f"in one of {len(MUTATIONS)} ways, and in two or three ways at once "
        f"({combined} seeded combinations), {len(CASES):,} plans in all"
    ) in text
