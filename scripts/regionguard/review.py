"""Plan review: what a saved Terraform plan changes, in the reviewer's terms, and the gate.

:func:`review_plan` reads a checked :class:`~regionguard.planfile.Plan`
once, as two deployments (:func:`regionguard.deployment.from_plan`, before
and after the change), and reports their difference with each resource's
action from the plan: resources per action, each SCP's accounts, Regions,
actions, options and size, the control's parameters per OU, the first-tier
OUs left uncovered, the widening changes (listed first for the reviewer),
what the plan leaves unknown and what changed outside Terraform. Attachments,
controls, parameters and coverage come from the deployments and nowhere
else, so the review cannot say one thing and the gate decide another.

The gate's reasons are the plan's own (:func:`plan_reasons`: Terraform's
errors, a removal, an action not understood, an unknown value, a guard
narrowed under an exemption) and every rule of :mod:`regionguard.checks`
over the deployment after apply (:func:`rule_findings`), every SCP of the
plan included, attached in the plan or not. Pure: reads no file.
:mod:`regionguard.review_format` writes it as text, markdown or JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as field_of
from typing import Any, TypeVar

from regionguard import catalogue
from regionguard.checks import check_deployment
from regionguard.deployment import (
    Deployment,
    OuDeployment,
    PlannedControl,
    ScpDoc,
    from_plan,
    parameter_values,
)
from regionguard.findings import Finding
from regionguard.planfile import (
    ATTACHMENT_TYPE,
    CONTROL_TYPE,
    POLICY_TYPE,
    Plan,
    PlanChange,
    field,
)
from regionguard.rules import (
    room_for_accounts,
    spared_ou_ids,
    spared_unguarded,
    statements,
    unguarded_actions,
)
from regionguard.scp import ScpDecodeError, ScpView, decode_scp, read_scp
from regionguard.settings import AWS_SCP_SIZE_LIMIT, DEFAULT_SCP_SIZE_LIMIT
from regionguard.words import count

_T = TypeVar("_T")

GUARDED_TYPES = frozenset({POLICY_TYPE, ATTACHMENT_TYPE, CONTROL_TYPE})
# The resource modules/bedrock-inference-scp orders attachments with (_gaps).
ORDERING_TYPE = "terraform_data"


ACTIONS = ("create", "update", "replace", "delete", "forget")


# Parameters of the Region deny control whose values are allow lists: a value
# added to one of them lets through something that was denied before.
ALLOW_LIST_PARAMETERS = ("AllowedRegions", "ExemptedActions", "ExemptedPrincipalArns")


RULE_DESTROY = catalogue.PLAN_DESTROY.id


RULE_UNKNOWN = catalogue.PLAN_UNKNOWN.id


RULE_ERRORED = catalogue.PLAN_ERRORED.id


RULE_ACTION = catalogue.PLAN_ACTION.id
RULE_GUARD_NARROWED = catalogue.PLAN_GUARD_NARROWED.id


@dataclass(frozen=True)
class AccountRef:
    """An account id an SCP names, with its name when the registry or the organization has one.

    Not the registry's :class:`~regionguard.registry.Account`: an SCP can
    name an account the registry does not know, and the review then shows
    it by its id alone.
    """

    id: str
    name: str | None

    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name else self.id


@dataclass(frozen=True)
class Widening:
    """A change that lets through a request denied before; listed first, flagged for review.

    The same change of the controls on several OUs is one widening: its
    ``message`` names every OU; ``change`` and ``ous`` keep the parts, so
    that a short form can name the first few.

    The other fields say which requests it concerns, for ``regionguard prove``'s
    P4: accounts, Regions, actions, principals (patterns), OUs that lose
    coverage (``uncovered``, ids); ``broad`` when it cannot be narrowed down
    to one of them.
    """

    subject: str
    message: str
    change: str | None = None
    ous: tuple[str, ...] = ()
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
    permitted: tuple[AccountRef, ...]
    accounts_added: tuple[AccountRef, ...]
    accounts_removed: tuple[AccountRef, ...]
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
    """The Region deny control of one OU, before and after, and the action on its resource."""

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


@dataclass(frozen=True)
class GateOptions:
    """What the rules of :mod:`regionguard.checks` are given for one plan."""

    home_region: str | None
    size_limit: int
    allow_wildcard_exemptions: bool
    allow_wildcard_principal_exemptions: bool


def _ou_label(ou_id: str | None, name: str | None, fallback: str) -> str:
    if ou_id is None:
        return fallback
    return f"{ou_id} ({name})" if name else ou_id


def gate_options(
    plan: Plan,
    *,
    home_region: str | None = None,
    size_limit: int | None = None,
    allow_wildcard_exemptions: bool | None = None,
) -> GateOptions:
    """The options given, else the plan's variables of the same names, else the defaults."""
    if home_region is None:
        var = plan.variable("home_region")
        home_region = var if isinstance(var, str) else None
    if size_limit is None:
        var = plan.variable("scp_size_limit")
        size_limit = var if type(var) is int and var > 0 else DEFAULT_SCP_SIZE_LIMIT
    if allow_wildcard_exemptions is None:
        allow_wildcard_exemptions = plan.variable("allow_wildcard_exemptions") is True
    return GateOptions(
        home_region=home_region,
        size_limit=min(size_limit, AWS_SCP_SIZE_LIMIT),  # no setting argues AWS's limit away
        allow_wildcard_exemptions=allow_wildcard_exemptions,
        allow_wildcard_principal_exemptions=(
            plan.variable("allow_wildcard_principal_exemptions") is True
        ),
    )


def rule_findings(after: Deployment, options: GateOptions, source: str) -> list[Finding]:
    """Every rule of :mod:`regionguard.checks` over what the plan leaves after apply."""
    return [
        Finding(f.rule_id, f.level, f.message, file=source, entry=f.entry)
        for f in check_deployment(
            after,
            home_region=options.home_region,
            size_limit=options.size_limit,
            allow_wildcard_exemptions=options.allow_wildcard_exemptions,
            allow_wildcard_principal_exemptions=options.allow_wildcard_principal_exemptions,
            require_home_region=True,
        )
    ]


def plan_reasons(
    plan: Plan,
    before: Deployment,
    after: Deployment,
    *,
    allow_destroy: bool,
    gaps: _Gaps | None = None,
) -> list[Finding]:
    """The gate's reasons that are the plan's own, not a rule over the deployment.

    Terraform's errors; a guarded resource deleted, replaced or forgotten
    (unless ``allow_destroy``), or with actions this gate does not know; a
    value unknown until apply; an exempted action losing its guard in the
    same apply.
    """
    out: list[Finding] = []

    def reason(rule: str, message: str, entry: str | None = None) -> None:
        out.append(Finding(rule, "error", message, file=plan.source, entry=entry))

    if plan.errored:
        reason(
            RULE_ERRORED,
            "Terraform reported errors while planning: the plan is incomplete; "
            "fix the errors and plan again.",
        )
    for ch in plan.changes:
        if ch.resource_type not in GUARDED_TYPES or ch.unchanged:
            continue
        if ch.action not in ACTIONS:
            reason(
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
            if ch.deposed is not None:
                verb = (
                    f"deletes the old object deposed as {ch.deposed} (left by a "
                    "create-before-destroy replace that did not finish) of"
                )
            reason(
                RULE_DESTROY,
                f"{ch.address}: the plan {verb} this {ch.resource_type}; an OU may be left "
                "without the Region deny or the SCP. Re-run with --allow-destroy only if "
                "that is intended.",
                ch.address,
            )
    for unknown in after.unknowns:
        why = unknown.why or (
            "unknown until apply, so it cannot be reviewed; make it depend only on values "
            "known at plan time"
        )
        reason(
            RULE_UNKNOWN,
            f"{unknown.address}: {', '.join(unknown.attributes)} of {unknown.what} is {why}.",
            unknown.address,
        )
    out.extend(
        _narrowed_guards(before, after, plan.source, gaps if gaps is not None else _gaps(plan))
    )
    return out


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
    variables of the same names (:func:`gate_options`). The gate's reasons
    are :func:`plan_reasons` and the errors of :func:`rule_findings` over
    the deployment after apply.
    """
    options = gate_options(
        plan,
        home_region=home_region,
        size_limit=size_limit,
        allow_wildcard_exemptions=allow_wildcard_exemptions,
    )
    names = {**plan.account_names, **(account_names or {})}
    before, after = from_plan(plan, "before"), from_plan(plan, "after")
    gaps = _gaps(plan)
    reasons = plan_reasons(plan, before, after, allow_destroy=allow_destroy, gaps=gaps)
    found = rule_findings(after, options, plan.source)
    reasons += [f for f in found if f.level == "error"]
    warnings = [f for f in found if f.level == "warning"]

    changes = {c.address: c for c in plan.changes if c.deposed is None}
    scps = _scp_diffs(plan, before, after, names, options.size_limit)
    controls, control_widening = _control_diffs(before, after, changes)
    newly, coverage_widening = _coverage(before, after)
    widening = [w for s in scps for w in _scp_widening(s)]
    widening += _attachment_widening(before, after, names)
    widening += control_widening
    widening += coverage_widening
    not_covered = (
        tuple(OuRef(ou.id or "", ou.name, why) for ou, why in after.not_covered)
        if after.not_covered_known
        else None
    )
    return PlanReview(
        source=plan.source,
        format_version=plan.format_version,
        terraform_version=plan.terraform_version,
        resources=_resources(plan.changes),
        scps=tuple(scps),
        controls=controls,
        not_covered=not_covered,
        newly_not_covered=newly,
        unknowns=tuple(Unknown(u.address, a) for u in after.unknowns for a in u.attributes),
        widening=tuple(_unique(widening)),
        reasons=tuple(_unique(reasons)),
        warnings=tuple(_unique(warnings)),
        drift=_drift(plan),
        home_region=options.home_region,
        allow_destroy=allow_destroy,
        layout=_layout(plan, gaps),
        moves=_moves(scps, plan.ou_names),
    )


def _resources(changes: Sequence[PlanChange]) -> dict[str, tuple[str, ...]]:
    """Addresses per action (and those adopted into the state by import blocks)."""
    resources: dict[str, list[str]] = {a: [] for a in ACTIONS}
    for ch in changes:
        if ch.importing:
            resources.setdefault("import", []).append(ch.address)
        if not ch.unchanged:
            resources.setdefault(ch.action, []).append(ch.address)
    return {k: tuple(v) for k, v in resources.items()}


def _layout(plan: Plan, gaps: _Gaps) -> str | None:
    """The scp_layout output after apply, in words."""
    value = plan.output_value("scp_layout", "after")
    if not isinstance(value, dict) or not isinstance(value.get("layout"), str):
        return None
    text = f"{value['layout']} ({value.get('reason', 'no reason given')})"
    before = plan.output_value("scp_layout", "before")
    if isinstance(before, dict) and before.get("layout") not in (None, value["layout"]):
        text += f"; it was {before['layout']}"
        if not gaps.unordered:
            text += ": each OU's new SCP is attached before the old one is detached and deleted"
    descended = [str(d) for d in value.get("descended") or []]
    if descended:
        names = plan.ou_names
        shown = ", ".join(_ou_label(d, names.get(d), d) for d in descended)
        text += f"; split over their child OUs because their own list does not fit: {shown}"
    return text


def _moves(scps: Sequence[ScpDiff], ou_names: Mapping[str, str]) -> tuple[str, ...]:
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


@dataclass(frozen=True)
class _Gaps:
    """Attachments a plan may take off an OU before the SCPs that replace them are on.

    ``destroyed_first``: attachments replaced destroy-first (``["delete",
    "create"]``, a replace without ``create_before_destroy``; with it,
    every attachment of modules/bedrock-inference-scp, ``["create",
    "delete"]``). ``unordered``: OU id -> attachments the plan deletes there
    while nothing in the plan makes Terraform create the new attachments
    first; ``created``: the attachments the plan creates or replaces (either
    way), which may not exist yet at that moment. ``depends``: SCP address ->
    the resources its configuration lists in ``depends_on``, and
    ``resource_of``: attachment address -> its resource; an SCP changed
    after every attachment of a resource it depends on is created.
    """

    destroyed_first: frozenset[str]
    unordered: Mapping[str, tuple[str, ...]]
    created: frozenset[str]
    depends: Mapping[str, frozenset[str]] = field_of(default_factory=dict)
    resource_of: Mapping[str, str] = field_of(default_factory=dict)
    # Every changed control comes after every changed SCP and attachment.
    controls_ordered: bool = True

    def ordered(self, scp: str, attachment: str) -> bool:
        """Whether Terraform changes SCP ``scp`` only after it created ``attachment``."""
        return self.resource_of.get(attachment, "") in self.depends.get(scp, frozenset())


def _gaps(plan: Plan) -> _Gaps:
    """Where an OU may be without an attachment for a moment of the apply.

    Terraform orders the delete of one resource and the create of another by
    their dependencies only. modules/bedrock-inference-scp makes every new
    attachment exist before any old one goes with ``terraform_data.attachments``
    (``create_before_destroy``, its input naming every attachment resource),
    which any plan that adds or removes an attachment updates. A plan that
    deletes an attachment with no change of a ``terraform_data`` of the same
    module whose configuration names the deleted attachment's resource and
    the resource of every attachment the plan creates shows nothing that
    orders the delete after the new ones.
    """
    attachments = plan.of_type(ATTACHMENT_TYPE)
    resource_of = {ch.address: plan.resource_of(ch) for ch in attachments}
    created = {ch.address for ch in attachments if ch.action in ("create", "replace")}
    # Updated (or replaced creating first), the terraform_data comes after
    # the creates it names; deleted, or destroyed first, it orders nothing.
    orderers = [
        (c.module_address, set(plan.references(c)))
        for c in plan.of_type(ORDERING_TYPE)
        if c.action == "update" or list(c.actions) == ["create", "delete"]
    ]
    creates = [
        (ch.module_address, resource_of[ch.address]) for ch in attachments if ch.address in created
    ]

    def ordered_delete(ch: PlanChange) -> bool:
        return any(
            module == ch.module_address
            and resource_of[ch.address] in names
            and all(m == module and r in names for m, r in creates)
            for module, names in orderers
        )

    destroyed_first = set()
    unordered: dict[str, list[str]] = {}
    for ch in attachments:
        if ch.action == "replace" and list(ch.actions) == ["delete", "create"]:
            destroyed_first.add(ch.address)
        target = field(ch.before, "target_id")
        if ch.action == "delete" and isinstance(target, str) and not ordered_delete(ch):
            unordered.setdefault(target, []).append(ch.address)
    depends = {
        ch.address: frozenset(plan.depends_on(ch))
        for ch in plan.of_type(POLICY_TYPE)
        if not ch.unchanged
    }
    # The controls come after the SCPs only by depends_on: the call of the
    # control's module names the module of every SCP and attachment that
    # changes, or the control's own depends_on names its resource.
    guards = {
        (plan.module_path(c.module_address), plan.resource_of(c))
        for c in (*plan.of_type(POLICY_TYPE), *attachments)
        if not c.unchanged
    }

    def control_ordered(control: PlanChange) -> bool:
        modules = plan.module_depends_on(control.module_address)
        resources = plan.depends_on(control)
        return all(
            (module and (module in modules or module in resources))
            or (module == plan.module_path(control.module_address) and resource in resources)
            for module, resource in guards
        )

    # Judged once per control resource: its instances share their configuration.
    by_resource = {plan.resource_of(c): c for c in plan.of_type(CONTROL_TYPE) if not c.unchanged}
    controls_ordered = all(control_ordered(c) for c in by_resource.values())
    return _Gaps(
        frozenset(destroyed_first),
        {k: tuple(v) for k, v in unordered.items()},
        frozenset(created),
        depends,
        resource_of,
        controls_ordered,
    )


# A moment of the apply, as the first-tier OU and a child OU it spares see it:
# the SCPs attached then, and (for the child) the attachments absent then.
_ChildAt = Callable[[str], tuple[list[ScpDoc], tuple[str, ...]]]


def _narrowed_guards(
    before: Deployment, after: Deployment, source: str, gaps: _Gaps
) -> list[Finding]:
    """An action exempted today loses its guard at some moment of the apply: refuse it.

    Terraform updates an OU's SCP before its control (the control depends on
    the attachment), so between the two updates the action the control still
    exempts would be denied by no SCP: open to every account. Dropping the
    exemption is one apply, dropping the guard the next. The same holds while
    an attachment is off an OU before its replacement is on (:class:`_Gaps`):
    the OU is then judged with the SCPs it keeps through the other
    attachments, with ``--allow-destroy`` too.
    And nothing orders an SCP's update before the creation of another
    attachment: the OU is also judged with the SCPs attached before the
    apply, each with its content after it. An attachment whose SCP the plan
    does not hold guards nothing. At each of these moments, a child OU that
    a guard of the OU spares (aws:PrincipalOrgPaths) is judged with the SCPs
    attached to it then (:func:`regionguard.rules.spared_unguarded`): its
    new attachments count only where the sparing SCP's configuration
    ``depends_on`` their resource.
    """
    after_content = {p.address: p.content for p in after.policies}
    before_content = {p.address: p.content for p in before.policies}
    changed = {a for a, c in after_content.items() if before_content.get(a, "") != c}
    problems: dict[str, list[str]] = {}
    # (kind, attachments taken off) -> action -> OUs
    open_meanwhile: dict[tuple[str, tuple[str, ...]], dict[str, list[str]]] = {}
    # (kind, child OU, its attachments taken off) -> action -> OUs that spare it
    open_below: dict[tuple[str, str, tuple[str, ...]], dict[str, list[str]]] = {}
    later_of = _by_id(after)
    earlier_of = _by_id(before)
    # OUs alike (the same exemptions, the same SCPs) are judged once, and
    # their SCPs decoded once.
    judged: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    decoded: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}

    def present(item: OuDeployment | None, absent: Collection[str]) -> list[ScpDoc]:
        if item is None:
            return []
        kept = {a.policy for a in item.attachments if a.address not in absent}
        return [s for s in item.scps if s.name in kept]

    def taken_off(item: OuDeployment | None, absent: Collection[str]) -> tuple[str, ...]:
        return tuple(a.address for a in (item.attachments if item else ()) if a.address in absent)

    def child_after(absent: Collection[str]) -> _ChildAt:
        def at(ou_id: str) -> tuple[list[ScpDoc], tuple[str, ...]]:
            child = later_of.get(ou_id)
            return present(child, absent), taken_off(child, absent)

        return at

    def with_content_after(scps: Iterable[ScpDoc]) -> list[ScpDoc]:
        # An SCP the plan keeps, with its content after; one it deletes
        # (detached only after the creates), as it is; one whose content
        # is unknown until apply, none.
        return [
            ScpDoc(s.name, content)
            for s in scps
            if (content := after_content.get(s.name, s.content)) is not None
        ]

    def child_updated_first(sparing: Collection[str]) -> _ChildAt:
        def at(ou_id: str) -> tuple[list[ScpDoc], tuple[str, ...]]:
            old = earlier_of.get(ou_id)
            scps = with_content_after(old.scps if old else ())
            absent = []
            for a in later_of[ou_id].attachments if ou_id in later_of else ():
                if a.address not in gaps.created:
                    continue
                content = after_content.get(a.policy or "")
                if content is not None and all(gaps.ordered(s, a.address) for s in sparing):
                    scps.append(ScpDoc(a.policy or "", content))
                else:
                    absent.append(a.address)
            return scps, tuple(absent)

        return at

    def meanwhile(kind: str, removed: tuple[str, ...], actions: Iterable[str], label: str) -> None:
        _note(open_meanwhile, (kind, removed), actions, label)

    def child_unordered(ou_id: str) -> tuple[list[ScpDoc], tuple[str, ...]]:
        return present(later_of.get(ou_id), gaps.created), gaps.unordered.get(ou_id, ())

    for item in before.ous:
        exempted = tuple((item.control or {}).get("ExemptedActions", ()))
        later = later_of.get(item.ou.id) if item.ou.id else after.find(None, item.ou.name)
        if exempted and later is None and not gaps.controls_ordered and item.planned_control:
            # Nothing orders the control's disable before its OU's SCPs go.
            meanwhile("control last", (item.planned_control.address,), exempted, item.ou.label())
        if not exempted or later is None:
            continue
        label = item.ou.label()
        narrowed = _unguarded(judged, exempted, list(later.scps))
        for action in narrowed:
            problems.setdefault(action, []).append(label)
        moments: list[tuple[str, tuple[str, ...], list[ScpDoc], _ChildAt]] = [
            ("narrowed", (), list(later.scps), child_after(())),
        ]
        # The SCPs attached before, updated, while the new attachments are not there yet.
        updated = with_content_after(item.scps)
        created = taken_off(later, gaps.created)
        sparing = [s.name for s in updated if s.name in changed]
        moments.append(("updated first", created, updated, child_updated_first(sparing)))
        first = taken_off(later, gaps.destroyed_first)
        moments.append(
            (
                "destroyed first",
                first,
                present(later, gaps.destroyed_first),
                child_after(gaps.destroyed_first),
            )
        )
        deleted = gaps.unordered.get(item.ou.id or "", ())
        if later.control is not None:
            kept = present(later, gaps.created) if deleted else present(later, ())
            moments.append(("unordered", deleted, kept, child_unordered))
        flagged = set(narrowed)
        for kind, removed, scps, child_at in moments:
            if kind != "narrowed" and removed:
                opened = [a for a in _unguarded(judged, exempted, scps) if a not in narrowed]
                meanwhile(kind, removed, opened, label)
                flagged.update(opened)
            contents = tuple(s.content for s in scps)
            if contents not in decoded:
                decoded[contents] = _documents(scps) or []
            docs = decoded[contents]
            if not any(
                spared_ou_ids(st) for d in docs for st in statements(d) if isinstance(st, dict)
            ):
                continue
            seen: dict[str, tuple[str, ...]] = {}
            child_documents = functools.partial(_child_documents, child_at, seen)
            for child, actions in spared_unguarded(exempted, docs, child_documents).items():
                absent = seen.get(child, ())
                if kind != "narrowed" and not absent:
                    continue  # the moment is the after-state for this child
                below = [a for a in actions if kind == "narrowed" or a not in narrowed]
                _note(open_below, (kind, child, absent), below, label)
        # SCPs updated in one apply, in no set order: each one guards at every
        # moment only what it guards with its content before and after.
        updated_scps = tuple(s.name for s in item.scps if s.name in changed)
        if updated_scps:
            both: set[str] = set()
            for scp in item.scps:
                now = set(exempted) - set(_unguarded(judged, exempted, [scp]))
                if scp.name in changed:
                    content = after_content.get(scp.name)
                    then = [ScpDoc(scp.name, content)] if content is not None else []
                    now &= set(exempted) - set(_unguarded(judged, exempted, then))
                both |= now
            meanwhile(
                "updated together",
                updated_scps,
                [a for a in exempted if a not in both and a not in flagged],
                label,
            )
    if not gaps.controls_ordered:
        for item in after.ous:
            exempted_after = tuple((item.control or {}).get("ExemptedActions", ()))
            old = earlier_of.get(item.ou.id or "")
            if not exempted_after or item.planned_control is None:
                continue
            if old is None or old.control is None or old.raw_control == item.raw_control:
                # A control enabled anew opens nothing the OU had closed: without
                # an OU-level Region deny before, only the landing zone's (which
                # has no exemptions) denied anything there.
                continue
            # The control may change before the SCPs do: its exemptions with
            # the SCPs as they were.
            opened = _unguarded(judged, exempted_after, list(old.scps))
            before_exempted = set(old.control.get("ExemptedActions", ()))
            meanwhile(
                "control first",
                (item.planned_control.address,),
                [a for a in opened if a not in before_exempted],
                item.ou.label(),
            )
    out = []
    for action, ous in problems.items():
        message = (
            f"Region deny control on {count(len(ous), 'OU')} ({', '.join(ous)}) exempts "
            f"{action} today, and this plan takes it out of the SCP's guard in the same "
            "apply: until the control is updated after the SCP, it would be open to every "
            "account in every Region. Remove it from exempted_actions and apply, then from "
            "guarded_actions."
        )
        out.append(
            Finding(RULE_GUARD_NARROWED, "error", message, file=source, entry=", ".join(ous))
        )
    # One finding per kind, attachments and OUs, naming every action.
    for ((kind, removed), where), actions in _by_ous(open_meanwhile).items():
        them = "they" if len(actions) > 1 else "it"
        head = (
            f"Region deny control on {count(len(where), 'OU')} ({', '.join(where)}) exempts "
            f"{', '.join(actions)}, and this plan "
        )
        if kind == "destroyed first":
            tail = (
                f"destroys {', '.join(removed)} before it creates the new one (a replace "
                f"without create_before_destroy): in between, {them} would be open to every "
                "account in every Region. Give the attachment lifecycle "
                "{ create_before_destroy = true }, as modules/bedrock-inference-scp does, and "
                "plan again."
            )
        elif kind == "updated together":
            tail = (
                f"updates {', '.join(removed)} in the same apply, in no set order, and no SCP "
                f"there guards {them} both before and after its update: if the update that "
                f"drops the guard comes first, {them} would be open to every account in every "
                "Region. Add the guard in one apply, and drop the other in the next."
            )
        elif kind in ("control first", "control last"):
            when = "changes" if kind == "control first" else "is disabled"
            tail = (
                f"changes the SCPs and {', '.join(removed)} with nothing ordering them (the "
                "control's module call has no depends_on on the SCP module, as envs/_shared "
                f"gives it): if the control {when} "
                f"{'before' if kind == 'control first' else 'after'} the SCPs change, {them} "
                "would be open to every account in every Region. Restore the depends_on and "
                "plan again."
            )
        elif kind == "updated first":
            tail = (
                f"takes {them} out of the guard of an SCP attached today while the SCP that "
                f"guards {them} after the apply comes with {', '.join(removed)}, which "
                "nothing orders first: if the update comes first, "
                f"{them} would be open to every account in every Region. Attach the new SCP "
                "in one apply, and change the old one in the next."
            )
        else:
            tail = (
                f"deletes {', '.join(removed)} while nothing in the plan makes Terraform "
                "attach the SCPs that replace it first (modules/bedrock-inference-scp's "
                "terraform_data.attachments does): if the delete comes first, "
                f"{them} would be open to every account in every Region. Plan with the "
                "module's terraform_data.attachments, or detach in a later apply."
            )
        out.append(
            Finding(RULE_GUARD_NARROWED, "error", head + tail, file=source, entry=", ".join(where))
        )
    out.extend(_open_below(open_below, source))
    return out


_K = TypeVar("_K")


def _note(
    opened: dict[_K, dict[str, list[str]]], key: _K, actions: Iterable[str], label: str
) -> None:
    """Note that ``actions`` are open on OU ``label`` at the moment ``key`` names."""
    for action in actions:
        opened.setdefault(key, {}).setdefault(action, []).append(label)


def _by_ous(
    opened: Mapping[_K, Mapping[str, list[str]]],
) -> dict[tuple[_K, tuple[str, ...]], list[str]]:
    """The actions of each moment grouped by the OUs they are open on: one finding each."""
    grouped: dict[tuple[_K, tuple[str, ...]], list[str]] = {}
    for key, by_action in opened.items():
        for action, labels in by_action.items():
            grouped.setdefault((key, tuple(labels)), []).append(action)
    return grouped


def _child_documents(
    child_at: _ChildAt, seen: dict[str, tuple[str, ...]], ou_id: str
) -> list[Mapping[str, Any]]:
    """The documents of a child OU's SCPs at a moment; notes in ``seen`` what is off it then."""
    child_scps, absent = child_at(ou_id)
    seen[ou_id] = absent
    return _documents(child_scps) or []


def _open_below(
    open_below: Mapping[tuple[str, str, tuple[str, ...]], Mapping[str, list[str]]], source: str
) -> list[Finding]:
    """The findings of child OUs a guard spares while their own guard is off (one per moment)."""
    out = []
    for ((kind, child, removed), where), actions in _by_ous(open_below).items():
        them = "they" if len(actions) > 1 else "it"
        head = (
            f"Region deny control on {count(len(where), 'OU')} ({', '.join(where)}) exempts "
            f"{', '.join(actions)}, and an SCP there spares the accounts under {child} "
            "(aws:PrincipalOrgPaths), which this plan "
        )
        gone = ", ".join(removed)
        if kind == "narrowed":
            tail = (
                f"leaves without a guard of {them}: until the control is updated after the "
                f"SCPs, {them} would be open to every account under {child}. Give {child} its "
                "own SCP first, or remove the action from exempted_actions and apply first."
            )
        elif kind == "updated first":
            tail = (
                f"guards only with {gone}, which nothing orders before the SCP that spares it "
                f"is changed: if that change comes first, {them} would be open to every account "
                f"under {child}. Make the sparing SCP depend on the attachment (depends_on, as "
                "modules/bedrock-inference-scp's per-OU SCPs do), or attach it in an earlier apply."
            )
        elif kind == "destroyed first":
            tail = (
                f"leaves without its guard while it destroys {gone} before it creates the new "
                f"one: in between, {them} would be open to every account under {child}. Give "
                "the attachment lifecycle { create_before_destroy = true }, as "
                "modules/bedrock-inference-scp does, and plan again."
            )
        else:
            tail = (
                f"leaves without its guard if it deletes {gone} before the new attachments "
                f"exist, which nothing in the plan orders: {them} would be open to every "
                f"account under {child}. Plan with the module's terraform_data.attachments, or "
                "detach in a later apply."
            )
        out.append(
            Finding(RULE_GUARD_NARROWED, "error", head + tail, file=source, entry=", ".join(where))
        )
    return out


def _unguarded(
    judged: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]],
    exempted: tuple[str, ...],
    scps: Sequence[ScpDoc],
) -> list[str]:
    """The exempted actions no SCP of ``scps`` guards; OUs alike are judged once."""
    key = (exempted, tuple(s.content for s in scps))
    if key not in judged:
        judged[key] = unguarded_actions(exempted, _documents(scps) or [])
    return judged[key]


def _documents(scps: Sequence[ScpDoc]) -> list[Mapping[str, Any]] | None:
    """The decoded documents of an OU's SCPs; None when one of them cannot be decoded."""
    documents: list[Mapping[str, Any]] = []
    for scp in scps:
        try:
            document = decode_scp(scp.content)
        except ScpDecodeError:
            return None
        if isinstance(document, dict):
            documents.append(document)
    return documents


def _by_id(deployment: Deployment) -> dict[str, OuDeployment]:
    return {item.ou.id: item for item in deployment.ous if item.ou.id is not None}


# ---------------------------------------------------------------- the SCPs


def _scp_diffs(
    plan: Plan,
    before: Deployment,
    after: Deployment,
    names: Mapping[str, str],
    size_limit: int,
) -> list[ScpDiff]:
    """Each SCP the plan changes, its document before and after (from the two deployments)."""
    unknown = {u.address for u in after.unknowns if "content" in u.attributes}
    diffs = []
    for change in plan.of_type(POLICY_TYPE):
        if change.unchanged:
            continue
        old, new = before.policy(change.address), after.policy(change.address)
        if old is None and new is None:
            continue  # not an SCP
        diffs.append(
            _scp_diff(
                change.address,
                change.action,
                read_scp(old.content) if old is not None and old.content is not None else None,
                read_scp(new.content) if new is not None and new.content is not None else None,
                change.address in unknown,
                names,
                size_limit,
            )
        )
    return diffs


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
    added: tuple[AccountRef, ...] = ()
    removed: tuple[AccountRef, ...] = ()
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


def _accounts(ids: Iterable[str], names: Mapping[str, str]) -> tuple[AccountRef, ...]:
    return tuple(AccountRef(i, names.get(i)) for i in sorted(ids))


def _scp_widening(diff: ScpDiff) -> list[Widening]:
    subject = f"SCP {diff.address}"
    out: list[Widening] = []
    if diff.before is None:
        return out  # a new SCP only adds denies
    if diff.after is None and not diff.after_unknown:
        if diff.action == "forget":
            out.append(
                Widening(
                    subject,
                    "the SCP leaves Terraform's management: nothing keeps its denies",
                    broad=True,
                )
            )
        else:
            out.append(
                Widening(subject, "the SCP is deleted: its denies stop applying", broad=True)
            )
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


# ---------------------------------------------------------------- each OU


@dataclass(frozen=True)
class _OuGuard:
    """What the guard statements of an OU's SCPs leave open, all of them together."""

    permitted: frozenset[str]
    regions: tuple[str, ...]
    actions: tuple[str, ...]


def _ou_guard(scps: Sequence[ScpDoc]) -> _OuGuard | None:
    """Accounts and Regions every guarding SCP of the OU lets through; actions any one guards.

    Each SCP applies on its own (AWS Organizations: a request must be
    allowed by every SCP on the path), so an account escapes the OU's guard
    only where each SCP with a guard lists it. None when an SCP cannot be read.
    """
    views = [read_scp(s.content) for s in scps]
    if any(v.error is not None for v in views):
        return None
    guarding = [v for v in views if v.guarded_actions]
    if not guarding:
        return _OuGuard(frozenset(), (), ())
    permitted = frozenset.intersection(*(v.permitted_accounts for v in guarding))
    regions = tuple(
        r for r in guarding[0].allowed_regions if all(r in v.allowed_regions for v in guarding)
    )
    actions: dict[str, str] = {}
    for v in guarding:
        for a in v.guarded_actions:
            actions.setdefault(a.lower(), a)
    return _OuGuard(permitted, regions, tuple(actions.values()))


def _attachment_widening(
    before: Deployment, after: Deployment, names: Mapping[str, str]
) -> list[Widening]:
    """An OU whose attached SCPs change for others: what their guard lets through now.

    A change of an SCP's own content is reported with the SCP; this is the
    OU whose attachments point to other SCPs (an attachment replaced, say).
    """
    out: list[Widening] = []
    later_of = _by_id(after)
    for item in before.ous:
        later = later_of.get(item.ou.id or "")
        if later is None or not later.attachments:
            continue
        old = {a.policy for a in item.attachments}
        new = {a.policy for a in later.attachments}
        if old == new or None in old or None in new or not old:
            continue
        was, now = _ou_guard(item.scps), _ou_guard(later.scps)
        if was is None or now is None or item.unresolved or later.unresolved:
            continue
        subject = f"OU {item.ou.label()}"
        change = (
            f"on OU {item.ou.label()}, whose SCPs change from "
            f"{', '.join(sorted(str(p) for p in old))} to {', '.join(sorted(str(p) for p in new))}"
        )
        for acct in _accounts(now.permitted - was.permitted, names):
            out.append(
                Widening(
                    subject, f"account {acct.label()} newly permitted {change}", accounts=(acct.id,)
                )
            )
        for region in _added_removed(was.regions, now.regions)[0]:
            out.append(
                Widening(
                    subject,
                    f"Region {region} added to the allowed Regions {change}",
                    regions=(region,),
                )
            )
        for act in _added_removed(was.actions, now.actions, fold=True)[1]:
            out.append(
                Widening(subject, f"action {act} no longer guarded {change}", actions=(act,))
            )
    return out


def _control_diffs(
    before: Deployment, after: Deployment, changes: Mapping[str, PlanChange]
) -> tuple[tuple[ControlDiff, ...], list[Widening]]:
    """The control of each OU whose control resource the plan changes, and the widening."""
    was = {i: item for i, item in _by_id(before).items() if item.planned_control}
    now = {i: item for i, item in _by_id(after).items() if item.planned_control}
    target_unknown = {
        u.address: u.attributes for u in after.unknowns if "target_identifier" in u.attributes
    }
    diffs: list[ControlDiff] = []
    by_change: dict[str, list[str]] = {}
    scope: dict[str, dict[str, Any]] = {}  # what requests each change concerns (Widening)
    # The same parameters on many OUs are decoded and compared once.
    compared: dict[Any, tuple[ParameterDiff, ...]] = {}
    items = {**was, **now}
    for ou_id in sorted(items, key=lambda i: (items[i].ou.name or "", i)):
        old = was[ou_id].planned_control if ou_id in was else None
        new = now[ou_id].planned_control if ou_id in now else None
        planned = new or old
        if planned is None:
            continue
        address = planned.address
        change = changes.get(address)
        action = change.action if change is not None else "no-op"
        if action in ("no-op", "read"):
            continue
        unknown = new.unknown if new is not None else target_unknown.get(address, ())
        key = (_frozen(old), _frozen(new), unknown)
        if key not in compared:
            compared[key] = _parameter_diffs(old, new, unknown)
        diff = ControlDiff(
            address=address,
            action=action,
            ou_id=ou_id,
            ou_name=items[ou_id].ou.name,
            parameters=compared[key],
            after_unknown=unknown,
        )
        diffs.append(diff)
        label = diff.ou_label()
        if action == "forget":
            text = "the Region deny control leaves Terraform's management"
            by_change.setdefault(text, []).append(label)
            scope[text] = {"broad": True}
        if old is None or new is None:
            continue  # a new control only denies; a lost one is reported under coverage
        for p in diff.parameters:
            if p.unknown or (p.before is None and p.after is None):
                continue
            if p.key in ALLOW_LIST_PARAMETERS:
                for value in p.added:
                    text = f"{p.key} + {value}"
                    by_change.setdefault(text, []).append(label)
                    scope[text] = {_ALLOW_LIST_FIELDS[p.key]: (value,)}
            else:
                text = f"parameter {p.key} changed"
                by_change.setdefault(text, []).append(label)
                scope[text] = {"broad": True}
    widening = []
    for text, ous in by_change.items():
        where = f"OU {ous[0]}" if len(ous) == 1 else f"{len(ous)} OUs: {', '.join(ous)}"
        widening.append(
            Widening("Region deny control", f"{text} on {where}", text, tuple(ous), **scope[text])
        )
    return tuple(diffs), widening


# The request part each allow list of the control widens.
_ALLOW_LIST_FIELDS = {
    "AllowedRegions": "regions",
    "ExemptedActions": "actions",
    "ExemptedPrincipalArns": "principals",
}


def _frozen(control: PlannedControl | None) -> tuple[tuple[str, str], ...] | None:
    return None if control is None else tuple(sorted(control.raw.items()))


def _parameter_diffs(
    before: PlannedControl | None, after: PlannedControl | None, unknown: Sequence[str]
) -> tuple[ParameterDiff, ...]:
    """Per parameter key: values before and after, added and removed (after None: deleted)."""
    old = parameter_values(before.raw) if before is not None else {}
    new = parameter_values(after.raw) if after is not None else {}
    whole = "parameters" in unknown or "target_identifier" in unknown
    unknown_keys = {u.split(".", 1)[1] for u in unknown if u.startswith("parameters.")}
    out = []
    for key in sorted(set(old) | set(new) | unknown_keys):
        b = old.get(key)
        a = new.get(key)
        if whole or key in unknown_keys:
            out.append(ParameterDiff(key, b, None, (), (), unknown=True))
            continue
        if b == a:
            continue
        gained, lost = _added_removed(b or (), a or ())
        out.append(ParameterDiff(key, b, a, gained, lost))
    return tuple(out)


def _coverage(before: Deployment, after: Deployment) -> tuple[tuple[OuRef, ...], list[Widening]]:
    """OUs that lose the control, their SCP attachments, or their place among the targets."""
    later_of = _by_id(after)
    newly: list[OuRef] = []
    widening: list[Widening] = []
    for item in before.ous:
        if item.ou.id is None:
            continue
        later = later_of.get(item.ou.id)
        lost = []
        if item.planned_control is not None and (later is None or later.planned_control is None):
            lost.append("the Region deny control")
        if item.attachments and (later is None or not later.attachments):
            lost.append("the SCP attachment")
        if lost:
            ref = OuRef(item.ou.id, item.ou.name)
            newly.append(ref)
            widening.append(
                Widening(
                    f"OU {ref.label()}",
                    f"OU {ref.label()} loses {' and '.join(lost)}",
                    uncovered=(item.ou.id,),
                )
            )
    targets = before.targets
    if targets is not None and after.targets is not None:
        gone = set(targets) - set(after.targets) - {ref.id for ref in newly}
        for ou in sorted(gone, key=lambda i: (targets[i], i)):
            ref = OuRef(ou, targets[ou])
            newly.append(ref)
            widening.append(
                Widening(
                    f"OU {ref.label()}", f"OU {ref.label()} is no longer a target", uncovered=(ou,)
                )
            )
    return tuple(newly), widening


# ---------------------------------------------------------------- outside Terraform


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


def _unique(items: Iterable[_T]) -> list[_T]:
    return list(dict.fromkeys(items))
