"""Plan review: what a saved Terraform plan changes, in the reviewer's terms, and the gate.

:func:`review_plan` takes a checked :class:`~regionguard.planfile.Plan` and
returns a :class:`PlanReview`: resources per action, each SCP's accounts,
Regions, actions, options and size, the control's parameters per OU, the
first-tier OUs left uncovered, the widening changes (listed first for the
reviewer), what the plan leaves unknown and what changed outside Terraform.
The gate's reasons are the plan's own (a removal, an unknown value, errors)
and every rule of :mod:`regionguard.checks` over what the plan leaves on
each OU. Pure: reads no file. :mod:`regionguard.review_format` writes it as
text, markdown or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from regionguard.checks import check_deployment
from regionguard.deployment import Deployment, from_plan
from regionguard.findings import Finding
from regionguard.planfile import (
    ATTACHMENT_TYPE,
    CONTROL_TYPE,
    POLICY_TYPE,
    Plan,
    PlanChange,
    contains_true,
    field,
    is_unknown,
    ou_id_of_arn,
)
from regionguard.rules import decode_parameter, room_for_accounts, unguarded_actions
from regionguard.scp import ScpDecodeError, ScpView, decode_scp, read_scp
from regionguard.settings import AWS_SCP_SIZE_LIMIT, DEFAULT_SCP_SIZE_LIMIT

GUARDED_TYPES = frozenset({POLICY_TYPE, ATTACHMENT_TYPE, CONTROL_TYPE})


ACTIONS = ("create", "update", "replace", "delete", "forget")


# Parameters of the Region deny control whose values are allow lists: a value
# added to one of them lets through something that was denied before.
ALLOW_LIST_PARAMETERS = ("AllowedRegions", "ExemptedActions", "ExemptedPrincipalArns")


RULE_DESTROY = "RG-PLAN-DESTROY"


RULE_UNKNOWN = "RG-PLAN-UNKNOWN"


RULE_SCP_UNREADABLE = "RG-PLAN-SCP-UNREADABLE"


RULE_ERRORED = "RG-PLAN-ERRORED"


RULE_ACTION = "RG-PLAN-ACTION"
RULE_GUARD_NARROWED = "RG-PLAN-GUARD-NARROWED"


@dataclass(frozen=True)
class Account:
    id: str
    name: str | None

    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name else self.id


@dataclass(frozen=True)
class Widening:
    """A change that lets through a request denied before; listed first, flagged for review.

    The other fields say which requests it concerns, for ``regionguard prove``'s
    P4: accounts, Regions, actions, principals (patterns), OUs that lose
    coverage (``uncovered``, ids); ``broad`` when it cannot be narrowed down
    to one of them.
    """

    subject: str
    message: str
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    uncovered: tuple[str, ...] = ()
    broad: bool = False


@dataclass(frozen=True)
class Unknown:
    """A value the plan leaves unknown until apply: it cannot be reviewed."""

    address: str
    attribute: str


@dataclass(frozen=True)
class ScpDiff:
    address: str
    action: str
    before: ScpView | None
    after: ScpView | None
    after_unknown: bool
    permitted: tuple[Account, ...]
    accounts_added: tuple[Account, ...]
    accounts_removed: tuple[Account, ...]
    regions_added: tuple[str, ...]
    regions_removed: tuple[str, ...]
    actions_added: tuple[str, ...]
    actions_removed: tuple[str, ...]
    options: tuple[tuple[str, str, str], ...]
    statements_added: tuple[str, ...]
    statements_removed: tuple[str, ...]
    size_limit: int

    @property
    def headroom(self) -> int | None:
        return None if self.after is None else self.size_limit - self.after.size

    @property
    def room_for_accounts(self) -> int | None:
        if self.after is None or self.after.account_lists == 0:
            return None
        return room_for_accounts(self.after.size, self.size_limit, self.after.account_lists)


@dataclass(frozen=True)
class ParameterDiff:
    key: str
    before: tuple[str, ...] | None
    after: tuple[str, ...] | None
    added: tuple[str, ...]
    removed: tuple[str, ...]
    unknown: bool = False


@dataclass(frozen=True)
class ControlDiff:
    address: str
    action: str
    ou_id: str | None
    ou_name: str | None
    parameters: tuple[ParameterDiff, ...]
    after_unknown: tuple[str, ...]

    def ou_label(self) -> str:
        return _ou_label(self.ou_id, self.ou_name, self.address)


@dataclass(frozen=True)
class OuRef:
    id: str
    name: str | None
    reason: str | None = None

    def label(self) -> str:
        return _ou_label(self.id, self.name, self.id)


@dataclass(frozen=True)
class PlanReview:
    """Everything a reviewer sees, and the gate's verdict."""

    source: str
    format_version: str
    terraform_version: str | None
    resources: Mapping[str, tuple[str, ...]]
    scps: tuple[ScpDiff, ...]
    controls: tuple[ControlDiff, ...]
    not_covered: tuple[OuRef, ...] | None
    newly_not_covered: tuple[OuRef, ...]
    unknowns: tuple[Unknown, ...]
    widening: tuple[Widening, ...]
    reasons: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    drift: tuple[str, ...]
    home_region: str | None
    allow_destroy: bool = False
    # The SCP layout after apply, in words (None: the plan does not say).
    layout: str | None = None
    # Permits that follow an account to another OU, one sentence each.
    moves: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def has_changes(self) -> bool:
        return any(self.resources.get(a) for a in ACTIONS)


def _ou_label(ou_id: str | None, name: str | None, fallback: str) -> str:
    if ou_id is None:
        return fallback
    return f"{ou_id} ({name})" if name else ou_id


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(v if isinstance(v, str) else json.dumps(v) for v in value)
    return (value if isinstance(value, str) else json.dumps(value),)


def _parameters(value: Any) -> dict[str, tuple[str, ...]] | None:
    """The control's parameters as key -> values, each value decoded from its JSON string."""
    if not isinstance(value, list):
        return None
    params: dict[str, tuple[str, ...]] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        params[item["key"]] = _strings(decode_parameter(item.get("value")))
    return params


def _unknown_parameter_keys(change: PlanChange) -> tuple[str, ...]:
    """Names of the control parameters whose key or value is unknown until apply."""
    unknown = field(change.after_unknown, "parameters")
    if unknown is True:
        return ("parameters",)
    if not isinstance(unknown, list):
        return ()
    after = field(change.after, "parameters")
    keys: list[str] = []
    for i, item in enumerate(unknown):
        if contains_true(item):
            known = after[i] if isinstance(after, list) and i < len(after) else None
            key = field(known, "key")
            keys.append(f"parameters.{key}" if isinstance(key, str) else f"parameters[{i}]")
    return tuple(keys)


@dataclass
class _Collector:
    """What the review steps accumulate (mutable, private to one review)."""

    source: str
    reasons: list[Finding] = dataclass_field(default_factory=list)
    warnings: list[Finding] = dataclass_field(default_factory=list)
    widening: list[Widening] = dataclass_field(default_factory=list)
    unknowns: list[Unknown] = dataclass_field(default_factory=list)

    def reason(self, rule: str, message: str, entry: str | None = None) -> None:
        self.reasons.append(Finding(rule, "error", message, file=self.source, entry=entry))

    def unknown(self, address: str, attributes: Sequence[str], what: str) -> None:
        self.unknowns.extend(Unknown(address, a) for a in attributes)
        self.reason(
            RULE_UNKNOWN,
            f"{address}: {', '.join(attributes)} of {what} is unknown until apply, "
            "so it cannot be reviewed; make it depend only on values known at plan time.",
            address,
        )


@dataclass(frozen=True)
class _PlannedControl:
    """A Region deny control as it will be after apply (known values only)."""

    ou_id: str
    parameters: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class _Attachments:
    """Which SCPs each OU will have after apply, and what was attached before."""

    after: Mapping[str, frozenset[str]]
    unresolved: frozenset[str]
    before: frozenset[str]


def review_plan(
    plan: Plan,
    *,
    allow_destroy: bool = False,
    account_names: Mapping[str, str] | None = None,
    home_region: str | None = None,
    size_limit: int | None = None,
    allow_wildcard_exemptions: bool | None = None,
) -> PlanReview:
    """Review a checked plan: the semantic summary and the gate's reasons.

    ``account_names`` (id -> name, e.g. from the registry) names accounts; the
    organization data the plan read fills the gaps. ``home_region``,
    ``size_limit`` and ``allow_wildcard_exemptions`` default to the plan's
    variables of the same names. Every rule of :mod:`regionguard.checks` is
    evaluated over what the plan leaves on each OU after apply.
    """
    col = _Collector(plan.source)
    changes = list(plan.changes)
    ou_names = plan.ou_names
    names = {**plan.account_names, **(account_names or {})}
    if home_region is None:
        var = plan.variable("home_region")
        home_region = var if isinstance(var, str) else None
    if size_limit is None:
        var = plan.variable("scp_size_limit")
        size_limit = var if type(var) is int and var > 0 else DEFAULT_SCP_SIZE_LIMIT
    size_limit = min(size_limit, AWS_SCP_SIZE_LIMIT)  # no setting argues AWS's limit away
    if allow_wildcard_exemptions is None:
        allow_wildcard_exemptions = plan.variable("allow_wildcard_exemptions") is True
    allow_wildcard_principals = plan.variable("allow_wildcard_principal_exemptions") is True
    if plan.errored:
        col.reason(
            RULE_ERRORED,
            "Terraform reported errors while planning: the plan is incomplete; "
            "fix the errors and plan again.",
        )

    resources = _gate_actions(changes, allow_destroy, col)
    policies = {c.address: c for c in changes if c.resource_type == POLICY_TYPE}
    _views, scps = _review_scps(policies, names, size_limit, col)
    attachments = _review_attachments(plan, changes, policies, col)
    planned, controls = _review_controls(changes, ou_names, col)
    not_covered, newly = _coverage(plan, changes, planned, attachments, ou_names, col)
    after = from_plan(plan, "after")
    _check_narrowed_guards(from_plan(plan, "before"), after, col)
    for finding in check_deployment(
        after,
        home_region=home_region,
        size_limit=size_limit,
        allow_wildcard_exemptions=allow_wildcard_exemptions,
        allow_wildcard_principal_exemptions=allow_wildcard_principals,
        require_home_region=True,
    ):
        located = Finding(
            finding.rule_id, finding.level, finding.message, file=col.source, entry=finding.entry
        )
        if finding.level == "error":
            col.reasons.append(located)
        elif finding.level == "warning":
            col.warnings.append(located)

    drift = _drift(plan)
    layout = _layout(plan, ou_names)
    moves = _moves(scps, policies, ou_names)
    return PlanReview(
        source=plan.source,
        format_version=plan.format_version,
        terraform_version=plan.terraform_version,
        resources=resources,
        scps=tuple(scps),
        controls=tuple(sorted(controls, key=lambda c: (c.ou_name or "", c.ou_id or ""))),
        not_covered=not_covered,
        newly_not_covered=newly,
        unknowns=tuple(col.unknowns),
        widening=tuple(col.widening),
        reasons=tuple(_unique(col.reasons)),
        warnings=tuple(_unique(col.warnings)),
        drift=drift,
        home_region=home_region,
        allow_destroy=allow_destroy,
        layout=layout,
        moves=moves,
    )


def _layout(plan: Plan, ou_names: Mapping[str, str]) -> str | None:
    """The scp_layout output after apply, in words."""
    value = plan.output_value("scp_layout", "after")
    if not isinstance(value, dict) or not isinstance(value.get("layout"), str):
        return None
    text = f"{value['layout']} ({value.get('reason', 'no reason given')})"
    before = plan.output_value("scp_layout", "before")
    if isinstance(before, dict) and before.get("layout") not in (None, value["layout"]):
        text += (
            f"; it was {before['layout']}: each OU's new SCP is attached before the old one "
            "is detached and deleted"
        )
    descended = [str(d) for d in value.get("descended") or []]
    if descended:
        shown = ", ".join(_ou_label(d, ou_names.get(d), d) for d in descended)
        text += f"; split over their child OUs because their own list does not fit: {shown}"
    return text


def _moves(
    scps: Sequence[ScpDiff], policies: Mapping[str, PlanChange], ou_names: Mapping[str, str]
) -> tuple[str, ...]:
    """Accounts one SCP stops permitting while another starts: a permit following its account.

    Under the per_ou layout an SCP lists the permitted accounts AWS
    Organizations places under its OU; an account moved out of band shows
    up here until the apply moves its permit too. Until then the account is
    listed by no SCP above it: denied outside the allowed Regions.
    """
    removed: dict[str, list[str]] = {}
    added: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for s in scps:
        key = s.address.rsplit("[", 1)[-1].strip('"]') if "[" in s.address else s.address
        where = _ou_label(key, ou_names.get(key), key) if key.startswith("ou-") else s.address
        for a in s.accounts_removed:
            removed.setdefault(a.id, []).append(where)
            labels[a.id] = a.label()
        for a in s.accounts_added:
            added.setdefault(a.id, []).append(where)
            labels[a.id] = a.label()
    out = []
    for account in sorted(set(removed) & set(added)):
        out.append(
            f"{labels[account]}: permit moves from the SCP of {', '.join(removed[account])} "
            f"to the SCP of {', '.join(added[account])} (the account is now placed there; "
            "until this apply it is denied outside the allowed Regions)"
        )
    return tuple(out)


def _check_narrowed_guards(before: Deployment, after: Deployment, col: _Collector) -> None:
    """An action exempted today loses its guard in the same apply: refuse it.

    Terraform updates an OU's SCP before its control (the control depends on
    the attachment), so between the two updates the action the control still
    exempts would be denied by no SCP: open to every account. Dropping the
    exemption is one apply, dropping the guard the next.
    """
    problems: dict[str, list[str]] = {}
    for item in before.ous:
        exempted = list((item.control or {}).get("ExemptedActions", ()))
        later = after.find(item.ou.id, item.ou.name)
        if not exempted or later is None or later.unresolved:
            continue
        documents = []
        for scp in later.scps:
            try:
                documents.append(decode_scp(scp.content))
            except ScpDecodeError:
                documents = []
                break
        for action in unguarded_actions(exempted, [d for d in documents if isinstance(d, dict)]):
            problems.setdefault(action, []).append(item.ou.label())
    for action, ous in problems.items():
        col.reason(
            RULE_GUARD_NARROWED,
            f"Region deny control on {count(len(ous), 'OU')} ({', '.join(ous)}) exempts {action} "
            "today, and this plan takes it out of the SCP's guard in the same apply: until the "
            "control is updated after the SCP, it would be open to every account in every Region. "
            "Remove it from exempted_actions and apply, then from guarded_actions.",
            ", ".join(ous),
        )


def _gate_actions(
    changes: Sequence[PlanChange], allow_destroy: bool, col: _Collector
) -> dict[str, tuple[str, ...]]:
    """Addresses per action; a reason per removal of a guarded resource."""
    resources: dict[str, list[str]] = {a: [] for a in ACTIONS}
    for ch in changes:
        if ch.importing:
            # Adopted into the state from AWS (import blocks), whatever else changes.
            resources.setdefault("import", []).append(ch.address)
        if ch.action in ("no-op", "read"):
            continue
        resources.setdefault(ch.action, []).append(ch.address)
        if ch.resource_type not in GUARDED_TYPES:
            continue
        if ch.action not in ACTIONS:
            col.reason(
                RULE_ACTION,
                f"{ch.address}: the plan's actions {list(ch.actions)} are not understood "
                "by this gate; review the plan by hand.",
                ch.address,
            )
        elif ch.removes and not allow_destroy:
            verb = {
                "delete": "deletes",
                "replace": "replaces (destroys, then re-creates)",
                "forget": "removes from Terraform's management",
            }[ch.action]
            if ch.action == "replace" and list(ch.actions) == ["create", "delete"]:
                verb = "replaces (creates the new one first, then destroys the old)"
            col.reason(
                RULE_DESTROY,
                f"{ch.address}: the plan {verb} this {ch.resource_type}; an OU may be left "
                "without the Region deny or the SCP. Re-run with --allow-destroy only if "
                "that is intended.",
                ch.address,
            )
    return {k: tuple(v) for k, v in resources.items()}


def _review_scps(
    policies: Mapping[str, PlanChange],
    names: Mapping[str, str],
    size_limit: int,
    col: _Collector,
) -> tuple[dict[str, ScpView | None], list[ScpDiff]]:
    """Each SCP's planned document (None when deleted or unknown) and the diffs of changed ones."""
    views: dict[str, ScpView | None] = {}
    diffs: list[ScpDiff] = []
    for address, pol in policies.items():
        if (field(pol.after, "type") or field(pol.before, "type")) not in (
            None,
            "SERVICE_CONTROL_POLICY",
        ):
            continue
        content = field(pol.before, "content")
        before = read_scp(content) if isinstance(content, str) else None
        after: ScpView | None = None
        unknown = not pol.removes_for_good and is_unknown(pol.after_unknown, "content")
        if unknown:
            col.unknown(address, ("content",), "the SCP")
        elif not pol.removes_for_good:
            content = field(pol.after, "content")
            after = read_scp(content) if isinstance(content, str) else None
        views[address] = after
        if after is not None and after.error is not None:
            col.reason(
                RULE_SCP_UNREADABLE,
                f"{address}: the planned SCP content is {after.error}; "
                "AWS Organizations would reject it.",
                address,
            )
        if pol.action in ("no-op", "read"):
            continue
        diff = _scp_diff(address, pol.action, before, after, unknown, names, size_limit)
        diffs.append(diff)
        col.widening.extend(_scp_widening(diff))
    return views, diffs


def _review_attachments(
    plan: Plan,
    changes: Sequence[PlanChange],
    policies: Mapping[str, PlanChange],
    col: _Collector,
) -> _Attachments:
    after: dict[str, set[str]] = {}
    unresolved: set[str] = set()
    before: set[str] = set()
    for att in changes:
        if att.resource_type != ATTACHMENT_TYPE:
            continue
        old = field(att.before, "target_id")
        if isinstance(old, str):
            before.add(old)
        if att.removes_for_good:
            continue
        target = field(att.after, "target_id")
        if is_unknown(att.after_unknown, "target_id") or not isinstance(target, str):
            col.unknown(att.address, ("target_id",), "the SCP attachment")
            continue
        policy = plan.policy_of_attachment(att, policies)
        if policy is None:
            unresolved.add(target)
        else:
            after.setdefault(target, set()).add(policy)
    return _Attachments(
        {k: frozenset(v) for k, v in after.items()}, frozenset(unresolved), frozenset(before)
    )


def _review_controls(
    changes: Sequence[PlanChange], ou_names: Mapping[str, str], col: _Collector
) -> tuple[dict[str, _PlannedControl], list[ControlDiff]]:
    """The controls as planned (by address) and the diffs of changed ones."""
    planned: dict[str, _PlannedControl] = {}
    diffs: list[ControlDiff] = []
    for ctl in changes:
        if ctl.resource_type != CONTROL_TYPE:
            continue
        before_ou = ou_id_of_arn(field(ctl.before, "target_identifier"))
        after_ou = None
        unknown: tuple[str, ...] = ()
        after_params = None
        if not ctl.removes_for_good:
            after_ou = ou_id_of_arn(field(ctl.after, "target_identifier"))
            unknown = _unknown_parameter_keys(ctl)
            if is_unknown(ctl.after_unknown, "target_identifier"):
                unknown = ("target_identifier", *unknown)
            after_params = _parameters(field(ctl.after, "parameters"))
        if unknown:
            col.unknown(ctl.address, unknown, "the Region deny control")
        elif after_ou is not None and after_params is not None:
            planned[ctl.address] = _PlannedControl(after_ou, after_params)
        if ctl.action in ("no-op", "read"):
            continue
        ou_id = after_ou or before_ou or ctl.key
        diff = ControlDiff(
            address=ctl.address,
            action=ctl.action,
            ou_id=ou_id,
            ou_name=ou_names.get(ou_id or ""),
            parameters=_parameter_diffs(
                _parameters(field(ctl.before, "parameters")), after_params, unknown
            ),
            after_unknown=unknown,
        )
        diffs.append(diff)
    order = _sort_ou(ou_names)
    diffs.sort(key=lambda d: order(d.ou_id or ""))
    col.widening.extend(_control_widening(diffs))
    return planned, diffs


def _coverage(
    plan: Plan,
    changes: Sequence[PlanChange],
    planned: Mapping[str, _PlannedControl],
    attachments: _Attachments,
    ou_names: Mapping[str, str],
    col: _Collector,
) -> tuple[tuple[OuRef, ...] | None, tuple[OuRef, ...]]:
    """First-tier OUs not covered after apply, and OUs that lose coverage in this plan."""
    order = _sort_ou(ou_names)
    untargeted = plan.output_map("untargeted_first_tier_ous", "after")
    reasons = plan.not_covered_reasons("after")
    not_covered = (
        None
        if untargeted is None
        else tuple(OuRef(i, ou_names.get(i), reasons.get(i)) for i in sorted(untargeted, key=order))
    )
    controlled_before: set[str] = set()
    controlled_after = {p.ou_id for p in planned.values()}
    for ctl in changes:
        if ctl.resource_type != CONTROL_TYPE:
            continue
        ou = ou_id_of_arn(field(ctl.before, "target_identifier"))
        if ou:
            controlled_before.add(ou)
        if not ctl.removes_for_good:
            # Unknown parameters still leave a control on the OU.
            ou = ou_id_of_arn(field(ctl.after, "target_identifier"))
            if ou:
                controlled_after.add(ou)
    attached_after = set(attachments.after) | attachments.unresolved
    newly: list[OuRef] = []
    for ou in sorted(controlled_before | attachments.before, key=order):
        lost = []
        if ou in controlled_before and ou not in controlled_after:
            lost.append("the Region deny control")
        if ou in attachments.before and ou not in attached_after:
            lost.append("the SCP attachment")
        if lost:
            ref = OuRef(ou, ou_names.get(ou))
            newly.append(ref)
            col.widening.append(
                Widening(
                    f"OU {ref.label()}",
                    f"OU {ref.label()} loses {' and '.join(lost)}",
                    uncovered=(ou,),
                )
            )
    before_targets = plan.output_map("targets", "before")
    after_targets = plan.output_map("targets", "after")
    if before_targets is not None and after_targets is not None:
        for ou in sorted(set(before_targets) - set(after_targets), key=order):
            if all(ref.id != ou for ref in newly):
                ref = OuRef(ou, ou_names.get(ou))
                newly.append(ref)
                col.widening.append(
                    Widening(
                        f"OU {ref.label()}",
                        f"OU {ref.label()} is no longer a target",
                        uncovered=(ou,),
                    )
                )
    return not_covered, tuple(newly)


# Attributes whose change outside Terraform matters to a reviewer.
DRIFT_ATTRIBUTES = {
    POLICY_TYPE: ("content", "name", "type"),
    ATTACHMENT_TYPE: ("policy_id", "target_id"),
    CONTROL_TYPE: ("control_identifier", "parameters", "target_identifier"),
}


def _drift(plan: Plan) -> tuple[str, ...]:
    """What changed outside Terraform in the guarded resources since the last apply."""
    out = []
    for drift in plan.data.get("resource_drift") or []:
        if not isinstance(drift, dict) or drift.get("type") not in DRIFT_ATTRIBUTES:
            continue
        change = drift.get("change")
        before, after = field(change, "before"), field(change, "after")
        if not isinstance(after, dict):
            out.append(f"{drift.get('address')}: deleted outside Terraform")
            continue
        changed = [
            a for a in DRIFT_ATTRIBUTES[str(drift["type"])] if field(before, a) != after.get(a)
        ]
        if changed:
            out.append(f"{drift.get('address')}: {', '.join(changed)} changed outside Terraform")
    return tuple(out)


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    out = []
    for f in findings:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


def _sort_ou(names: Mapping[str, str]) -> Callable[[str], tuple[str, str]]:
    return lambda ou: (names.get(ou, ""), ou)


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _scp_diff(
    address: str,
    action: str,
    before: ScpView | None,
    after: ScpView | None,
    after_unknown: bool,
    names: Mapping[str, str],
    size_limit: int,
) -> ScpDiff:
    options: list[tuple[str, str, str]] = []
    added: tuple[Account, ...] = ()
    removed: tuple[Account, ...] = ()
    regions: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    actions: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    statements: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    if before is not None and after is not None:
        added = _accounts(after.permitted_accounts - before.permitted_accounts, names)
        removed = _accounts(before.permitted_accounts - after.permitted_accounts, names)
        regions = _added_removed(before.allowed_regions, after.allowed_regions)
        actions = _added_removed(before.guarded_actions, after.guarded_actions, fold=True)
        statements = _added_removed(before.statement_ids, after.statement_ids)
        for label, old, new in (
            ("Global inference profiles allowed for", before.global_option, after.global_option),
            (
                "Inference profile for out-of-Region calls",
                before.profile_option,
                after.profile_option,
            ),
        ):
            if old != new:
                options.append((label, old, new))
    return ScpDiff(
        address=address,
        action=action,
        before=before,
        after=after,
        after_unknown=after_unknown,
        permitted=_accounts(after.permitted_accounts, names) if after else (),
        accounts_added=added,
        accounts_removed=removed,
        regions_added=regions[0],
        regions_removed=regions[1],
        actions_added=actions[0],
        actions_removed=actions[1],
        options=tuple(options),
        statements_added=statements[0],
        statements_removed=statements[1],
        size_limit=size_limit,
    )


def _added_removed(
    before: Sequence[str], after: Sequence[str], *, fold: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Items of ``after`` not in ``before``, and of ``before`` not in ``after``, in order."""

    def norm(v: str) -> str:
        return v.lower() if fold else v

    b = {norm(v) for v in before}
    a = {norm(v) for v in after}
    return tuple(v for v in after if norm(v) not in b), tuple(v for v in before if norm(v) not in a)


def _accounts(ids: Iterable[str], names: Mapping[str, str]) -> tuple[Account, ...]:
    return tuple(Account(i, names.get(i)) for i in sorted(ids))


def _scp_widening(diff: ScpDiff) -> list[Widening]:
    subject = f"SCP {diff.address}"
    out: list[Widening] = []
    if diff.before is None:
        return out  # a new SCP only adds denies
    if diff.action == "delete":
        out.append(Widening(subject, "the SCP is deleted: its denies stop applying", broad=True))
        return out
    for acct in diff.accounts_added:
        out.append(
            Widening(subject, f"account {acct.label()} newly permitted", accounts=(acct.id,))
        )
    for region in diff.regions_added:
        out.append(
            Widening(subject, f"Region {region} added to the allowed Regions", regions=(region,))
        )
    for act in diff.actions_removed:
        out.append(Widening(subject, f"action {act} no longer guarded", actions=(act,)))
    for label, old, new in diff.options:
        if _option_rank(new) > _option_rank(old):
            out.append(Widening(subject, f"{label}: {old} → {new}", broad=True))
    for sid in diff.statements_removed:
        out.append(Widening(subject, f"statement {sid} removed", broad=True))
    return out


def _option_rank(value: str) -> int:
    # Higher lets more through.
    return {
        "nobody": 0,
        "permitted accounts only": 1,
        "every account": 2,
        "not required": 1,
    }.get(value, 0)


def _parameter_diffs(
    before: Mapping[str, tuple[str, ...]] | None,
    after: Mapping[str, tuple[str, ...]] | None,
    unknown_keys: Sequence[str],
) -> tuple[ParameterDiff, ...]:
    """Per parameter key: values before and after, added and removed (after None: deleted)."""
    out = []
    for key in sorted(set(before or {}) | set(after or {})):
        b = (before or {}).get(key)
        a = (after or {}).get(key)
        if f"parameters.{key}" in unknown_keys or "parameters" in unknown_keys:
            out.append(ParameterDiff(key, b, None, (), (), unknown=True))
            continue
        if b == a:
            continue
        gained, lost = _added_removed(b or (), a or ())
        out.append(ParameterDiff(key, b, a, gained, lost))
    return tuple(out)


def _control_widening(diffs: Sequence[ControlDiff]) -> list[Widening]:
    """Widening changes of the controls; the same change on several OUs reads as one."""
    by_change: dict[str, list[str]] = {}
    scope: dict[str, dict[str, Any]] = {}
    for diff in diffs:
        label = diff.ou_label()
        if diff.action == "forget":
            change = "the Region deny control leaves Terraform's management"
            by_change.setdefault(change, []).append(label)
            scope[change] = {"broad": True}
        if diff.action != "update" and diff.action != "replace":
            continue  # a new control only denies; a lost one is reported under coverage
        for p in diff.parameters:
            if p.unknown or (p.before is None and p.after is None):
                continue
            if p.key in ALLOW_LIST_PARAMETERS:
                for value in p.added:
                    change = f"{p.key} + {value}"
                    by_change.setdefault(change, []).append(label)
                    field_name = _ALLOW_LIST_FIELDS[p.key]
                    scope[change] = {field_name: (value,)}
            else:
                change = f"parameter {p.key} changed"
                by_change.setdefault(change, []).append(label)
                scope[change] = {"broad": True}
    out = []
    for change, ous in by_change.items():
        where = f"OU {ous[0]}" if len(ous) == 1 else f"{len(ous)} OUs: {', '.join(ous)}"
        out.append(Widening("Region deny control", f"{change} on {where}", **scope[change]))
    return out


# The request part each allow list of the control widens.
_ALLOW_LIST_FIELDS = {
    "AllowedRegions": "regions",
    "ExemptedActions": "actions",
    "ExemptedPrincipalArns": "principals",
}
