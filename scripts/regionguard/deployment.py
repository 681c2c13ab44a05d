"""What goes on each first-tier OU: this project's SCPs and the Region deny control's parameters.

One model, built two ways:

- :func:`from_environment`: what the environment's settings and committed
  tfvars deploy, through the one renderer (``regionguard.render``) and the
  one target selector (:func:`select_targets`, the rule of
  ``envs/_shared/main.tf``, bound to it by ``tests/test_targets.py``);
- :func:`from_plan`: what a saved plan leaves on each OU before or after
  the change (``terraform show -json``): the one reading of a plan's SCPs,
  attachments and controls. Besides the OUs it keeps every SCP of the plan by
  address (attached in the plan or not), each OU's attachments and control
  by address, and what the plan leaves unknown, so that the plan review is a
  diff of two deployments and never reads the changes a second time.

``explain``, ``matrix``, ``verify``, ``validate`` and the plan gate all work
on a :class:`Deployment`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.layout import Descended, Layout, compute_layout
from regionguard.planfile import (
    ATTACHMENT_TYPE,
    CONTROL_TYPE,
    POLICY_TYPE,
    Plan,
    PlanChange,
    contains_true,
    is_unknown,
    only_policy_with_id,
    ou_id_of_arn,
)
from regionguard.planfile import (
    field as plan_field,
)
from regionguard.render import jsonencode, render_control_parameters
from regionguard.rules import decode_parameter, decode_parameters
from regionguard.sandbox.settings import load_sandbox_settings
from regionguard.words import noun

__all__ = [
    "Deployment",
    "OrgUnit",
    "OuDeployment",
    "PlanUnknown",
    "PlannedAttachment",
    "PlannedControl",
    "PlannedScp",
    "ScpDoc",
    "Selection",
    "control_values",
    "from_environment",
    "from_plan",
    "parameter_values",
    "select_targets",
]

EVERY_TARGET = "every targeted first-tier OU"
# The OU id format of AWS Organizations (API reference, OrganizationalUnit Id).
OU_ID_PATTERN = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")


class UnknownOuIds(InputError):
    """A target selector is an OU id, and the OUs at hand are known by name only."""


@dataclass(frozen=True)
class OrgUnit:
    """A first-tier OU; ``id`` is None where only its name is known (the registry's ``ou``)."""

    id: str | None
    name: str | None

    def label(self) -> str:
        if self.id is None:
            return self.name or "?"
        return f"{self.id} ({self.name})" if self.name else self.id


@dataclass(frozen=True)
class Selection:
    """The first-tier OUs the settings target, those left out (with why), and dead selectors."""

    targets: tuple[OrgUnit, ...]
    untargeted: tuple[tuple[OrgUnit, str], ...]
    unmatched: tuple[str, ...]


# Why an OU is left out: the words of envs/_shared/main.tf's exclusion_reasons.
NOT_REGISTERED = (
    "not registered with AWS Control Tower, which refuses controls on it; register it, "
    "then run regionguard preflight --write-tfvars"
)
NOT_INCLUDED = "not in target_ou_include"
EXCLUDED = "in target_ou_exclude"


def select_targets(
    ous: Sequence[OrgUnit],
    include: Sequence[str],
    exclude: Sequence[str],
    unregistered: Collection[str] = (),
) -> Selection:
    """Terraform's target rule (envs/_shared/main.tf ``local.exclusion_reasons``).

    An OU is a target unless it is recorded as not registered with Control
    Tower (by id), ``include`` is not empty and names it neither by id nor by
    name, or ``exclude`` names it by id or name. Raises InputError when a
    selector might be the id of an OU whose id is not known here: the answer
    would be a guess.
    """
    known_ids = {ou.id for ou in ous if ou.id is not None}
    if any(ou.id is None for ou in ous):
        unsure = [
            s
            for s in dict.fromkeys([*include, *exclude])
            if OU_ID_PATTERN.fullmatch(s) and s not in known_ids
        ]
        if unsure:
            raise UnknownOuIds(
                f"target_ou_include/target_ou_exclude name the {noun(len(unsure), 'OU id')} "
                f"{', '.join(unsure)}; "
                "which OU that is only the organization knows: pass --plan (the plan read the "
                "organization), or, for the local environment, start the sandbox"
            )

    def named(ou: OrgUnit, selectors: Sequence[str]) -> bool:
        return (ou.id is not None and ou.id in selectors) or (
            ou.name is not None and ou.name in selectors
        )

    targets: list[OrgUnit] = []
    untargeted: list[tuple[OrgUnit, str]] = []
    for ou in ous:
        reasons = []
        if ou.id is not None and ou.id in unregistered:
            reasons.append(NOT_REGISTERED)
        if include and not named(ou, include):
            reasons.append(NOT_INCLUDED)
        if named(ou, exclude):
            reasons.append(EXCLUDED)
        if reasons:
            untargeted.append((ou, "; ".join(reasons)))
        else:
            targets.append(ou)
    unmatched = tuple(
        s
        for s in dict.fromkeys([*include, *exclude])
        if not any(s == ou.id or s == ou.name for ou in ous)
    )
    return Selection(tuple(targets), tuple(untargeted), unmatched)


@dataclass(frozen=True)
class ScpDoc:
    """One of this project's SCPs: its name (or plan address) and its content as sent."""

    name: str
    content: str


@dataclass(frozen=True)
class PlannedScp:
    """One of this project's SCPs in a plan, on one side: its address and content.

    ``content`` is None when the plan leaves it unknown until apply.
    """

    address: str
    content: str | None


@dataclass(frozen=True)
class PlannedAttachment:
    """An SCP attachment in a plan: its address and the SCP's (None: the plan does not tell)."""

    address: str
    policy: str | None


@dataclass(frozen=True)
class PlannedControl:
    """The Region deny control a plan leaves on an OU.

    ``raw`` holds the parameters the plan knows, as sent to Control Tower;
    ``unknown`` names those it leaves unknown until apply
    (``parameters.<key>``, ``parameters[<index>]`` or ``parameters``).
    """

    address: str
    raw: Mapping[str, str]
    unknown: tuple[str, ...] = ()
    # Of ``unknown``: the parameters given twice with different values.
    twice: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanUnknown:
    """Attributes of one resource a plan leaves unknown until apply: they cannot be reviewed.

    ``why`` says why, where it is not a value Terraform knows only at apply:
    two values of which Control Tower keeps one (the plan cannot say which),
    or a control's target that is no OU.
    """

    address: str
    attributes: tuple[str, ...]
    what: str
    why: str | None = None


@dataclass(frozen=True)
class OuDeployment:
    """What one targeted OU carries.

    ``control`` maps the control's parameters to their values (None: no
    control, or one whose parameters a plan leaves unknown); ``raw_control``
    holds them as sent to Control Tower (each a JSON string). ``unresolved``
    says what a plan leaves unknown on this OU (an SCP content, a parameter,
    which policy an attachment attaches). From a plan, ``attachments`` and
    ``planned_control`` name the resources that put the SCPs and the control
    there.
    """

    ou: OrgUnit
    scps: tuple[ScpDoc, ...]
    control: Mapping[str, tuple[str, ...]] | None
    raw_control: Mapping[str, str] | None = None
    unresolved: tuple[str, ...] = ()
    # SCPs directly attached to the OU that are not this project's nor the
    # control's (None: not known; AWS attaches FullAWSAccess to every OU).
    other_scps: int | None = None
    attachments: tuple[PlannedAttachment, ...] = ()
    planned_control: PlannedControl | None = None


@dataclass(frozen=True)
class Deployment:
    """The OUs that carry this project's guardrails, and the first-tier OUs that do not."""

    source: str
    ous: tuple[OuDeployment, ...]
    not_covered: tuple[tuple[OrgUnit, str], ...] = ()
    layout: Layout | None = None
    # From a plan: every SCP of this project on this side, attached in the
    # plan or not (its attachments may be in the state and unchanged, or made
    # elsewhere), in the plan's order.
    policies: tuple[PlannedScp, ...] = ()
    # From a plan: what it leaves unknown until apply (the after side only).
    unknowns: tuple[PlanUnknown, ...] = ()
    # From a plan: the root's ``targets`` output (OU id -> name; None: absent or unknown).
    targets: Mapping[str, str] | None = None
    # False when a plan does not say which first-tier OUs are not covered.
    not_covered_known: bool = True

    @property
    def unattached(self) -> tuple[ScpDoc, ...]:
        """The SCPs of known content that no OU of this deployment carries.

        They exist in the organization all the same, so every rule about an
        SCP document applies to them.
        """
        carried = {scp.name for item in self.ous for scp in item.scps}
        return tuple(
            ScpDoc(p.address, p.content)
            for p in self.policies
            if p.content is not None and p.address not in carried
        )

    def policy(self, address: str) -> PlannedScp | None:
        """The SCP at this plan address on this side (None: not there)."""
        for p in self.policies:
            if p.address == address:
                return p
        return None

    def find(self, ou_id: str | None, name: str | None) -> OuDeployment | None:
        """The deployment of the OU with this id (when known) or name."""
        for item in self.ous:
            if ou_id is not None and item.ou.id == ou_id:
                return item
            if (item.ou.id is None or ou_id is None) and name is not None and item.ou.name == name:
                return item
        return None

    def check_known(self) -> None:
        """Refuse to model a deployment whose values a plan leaves unknown (exit 2)."""
        problems = [f"{o.ou.label()}: {', '.join(o.unresolved)}" for o in self.ous if o.unresolved]
        if problems:
            raise InputError(
                f"{self.source}: unknown until apply, so no decision can be made: "
                + "; ".join(problems)
            )


def control_values(raw: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The control's parameters as sent, decoded (entries that cannot be decoded left out)."""
    decoded, _problems = decode_parameters(raw)
    return {k: tuple(v) for k, v in decoded.items()}


def parameter_values(raw: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Every parameter as sent, for a reader: decoded, or (one that cannot be) its text as sent.

    The rules (``RG-CTRL-PARAMETER``) say what is wrong with an entry that
    cannot be decoded; a review still shows what would be sent.
    """
    decoded = control_values(raw)
    return {k: decoded.get(k, (v,)) for k, v in raw.items()}


def registry_placement(env: Environment) -> dict[str, tuple[str, ...]]:
    """Account id -> OU names from the first tier down, from the registry's optional ``ou``."""
    return {a.id: tuple(p for p in a.ou.split("/") if p) for a in env.registry.accounts if a.ou}


# Stand-ins where the registry knows an OU by name only: ids and an org path
# of the lengths AWS uses, so that sizes are counted as they will be.
STAND_IN_ORG_PATH = "o-0000000000/r-0000/"


def stand_in_ou_id(name: str) -> str:
    """An OU id of AWS's length for an OU known by name only."""
    return "ou-0000-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def environment_layout(
    env: Environment,
    ous: Sequence[OrgUnit],
    permitted_ids: Sequence[str] | None = None,
) -> tuple[Layout, dict[str, str]]:
    """The SCP layout of the environment on ``ous``, accounts placed by the registry's ``ou``.

    Terraform places them as AWS Organizations does; the plan review shows
    that. Returns the layout and the name of each OU key it uses (OUs known
    by name only get a stand-in id, :func:`stand_in_ou_id`).
    """
    ids = env.deployed_ids if permitted_ids is None else permitted_ids
    placement = registry_placement(env)
    names: dict[str, str] = {}
    by_name: dict[str, str] = {}
    keys: list[str] = []
    for ou in ous:
        key = ou.id or stand_in_ou_id(ou.name or "?")
        keys.append(key)
        names[key] = ou.name or key
        if ou.name:
            by_name[ou.name] = key
    under: dict[str, list[str]] = {k: [] for k in keys}
    children: dict[str, dict[str, list[str]]] = {k: {} for k in keys}
    direct: dict[str, list[str]] = {k: [] for k in keys}
    for account, path in placement.items():
        top = by_name.get(path[0])
        if top is None:
            continue
        under[top].append(account)
        if len(path) > 1:
            child = stand_in_ou_id("/".join(path[:2]))
            names[child] = "/".join(path[:2])
            children[top].setdefault(child, []).append(account)
        else:
            direct[top].append(account)
    first = compute_layout(env.settings, ids, keys, under)
    descended = {
        k: Descended(tuple(direct[k]), {c: tuple(v) for c, v in children[k].items()})
        for k in first.descended
    }
    if not descended:
        return first, names
    return compute_layout(env.settings, ids, keys, under, descended, STAND_IN_ORG_PATH), names


def _scp_label(where: str) -> str:
    """How validate names one SCP of the per_ou layout: by the OU it is attached to."""
    return f"SCP of {where}"


def from_environment(
    env: Environment,
    ous: Sequence[OrgUnit] | None = None,
    *,
    complete: bool = False,
    permitted_ids: Sequence[str] | None = None,
) -> Deployment:
    """What the environment deploys on ``ous`` (None: the first-tier OUs the registry names).

    ``complete`` says that ``ous`` are all the first-tier OUs of the
    organization, so that a selector matching none of them is an error, as
    Terraform's ``targets`` output precondition makes it. Under the single
    layout with ``ous`` None, one stand-in carries the SCP for every target.
    Under the per_ou layout each target carries its own SCP, accounts placed
    by the registry's ``ou``; a descended target's child OUs are listed too.
    """
    raw = render_control_parameters(env.settings)
    control = control_values(raw)
    settings = env.settings
    source = f"rendered from {env.dir}"
    ids = env.deployed_ids if permitted_ids is None else permitted_ids
    single = compute_layout(settings, ids, (), {})
    if ous is None:
        if single.kind == "single":
            stand_in = OrgUnit(None, EVERY_TARGET)
            scp = ScpDoc(settings.scp_name, single.groups[0].content)
            return Deployment(source, (OuDeployment(stand_in, (scp,), control, raw),))
        ous = registry_first_tier(env)
    selection = select_targets(
        ous, settings.target_ou_include, settings.target_ou_exclude, env.unregistered_ous
    )
    if complete and selection.unmatched:
        raise InputError(
            f"{settings.file}: target_ou_include/target_ou_exclude entries "
            f"{', '.join(selection.unmatched)} match no first-tier OU by name or id; "
            "correct or remove them"
        )
    layout, names = environment_layout(env, selection.targets, ids)
    items: list[OuDeployment] = []
    for ou in selection.targets:
        group = layout.target_group(ou.id or stand_in_ou_id(ou.name or "?"))
        name = group.name if layout.kind == "single" else _scp_label(f"OU {ou.label()}")
        items.append(OuDeployment(ou, (ScpDoc(name, group.content),), control, raw))
    for group in layout.groups:
        if group.second_tier:
            child = OrgUnit(group.key, names.get(group.key))
            scp = ScpDoc(_scp_label(f"child OU {names.get(group.key)}"), group.content)
            items.append(OuDeployment(child, (scp,), None, None))
    return Deployment(source, tuple(items), selection.untargeted, layout)


def registry_first_tier(env: Environment) -> tuple[OrgUnit, ...]:
    """First-tier OUs by name: the first segment of each account's ``ou``."""
    names: list[str] = []
    for path in registry_placement(env).values():
        if path[0] not in names:
            names.append(path[0])
    return tuple(OrgUnit(None, n) for n in names)


# ---------------------------------------------------------------- from a plan


def known_first_tier(env: Environment) -> tuple[OrgUnit, ...]:
    """First-tier OUs known offline, by name: the sandbox's, then each ``ou``'s first segment."""
    names: list[str] = []
    if env.has_sandbox:
        names.extend(load_sandbox_settings(env.dir).organizational_units)
    for ou in registry_first_tier(env):
        if ou.name not in names:
            names.append(ou.name or "?")
    return tuple(OrgUnit(None, n) for n in names)


def _json(value: Any) -> str:
    return jsonencode(value)


def _state(change: PlanChange, side: str) -> Any:
    if side == "after" and change.removes_for_good:
        if change.action == "forget" and change.resource_type == CONTROL_TYPE:
            # Forgotten (a `removed` block with destroy = false), the control
            # stays enabled in AWS with the parameters it has, exemptions too;
            # only Terraform stops managing it.
            return change.before
        return None
    return change.after if side == "after" else change.before


def _unknown(change: PlanChange, side: str, attribute: str) -> bool:
    return side == "after" and is_unknown(change.after_unknown, attribute)


def _parameters(change: PlanChange, state: Any, side: str) -> PlannedControl:
    """The control's parameters a plan knows on one side, and those it leaves unknown."""
    value = plan_field(state, "parameters")
    unknown = plan_field(change.after_unknown, "parameters") if side == "after" else None
    if unknown is True or (side == "after" and change.after_unknown is True):
        return PlannedControl(change.address, {}, ("parameters",))
    items = value if isinstance(value, list) else []
    missing: list[str] = []
    known = []
    for i, item in enumerate(items):
        key = item.get("key") if isinstance(item, dict) else None
        if isinstance(unknown, list) and i < len(unknown) and contains_true(unknown[i]):
            missing.append(f"parameters.{key}" if isinstance(key, str) else f"parameters[{i}]")
        else:
            known.append(item)
    twice = tuple(f"parameters.{key}" for key in given_twice(known))
    missing += [t for t in twice if t not in missing]
    return PlannedControl(change.address, sent_parameters(known), tuple(missing), twice)


def given_twice(value: Any) -> list[str]:
    """The keys a control's ``parameters`` give more than once, with different values.

    Terraform sends every block of the set; which value Control Tower keeps
    is not documented (AWS Control Tower API Reference, EnableControl), so
    such a parameter is not known until apply. Two texts of one JSON value
    (spaced otherwise) are one value: whichever is kept means the same.
    """
    seen: dict[str, Any] = {}
    twice: list[str] = []
    for key, sent in _sent(value):
        meaning = decode_parameter(sent)
        if key in seen and seen[key] != meaning and key not in twice:
            twice.append(key)
        seen.setdefault(key, meaning)
    return twice


def _sent(value: Any) -> Iterator[tuple[str, str]]:
    """(key, value as sent) of each parameter block with a string key."""
    for item in value if isinstance(value, list) else []:
        key = item.get("key") if isinstance(item, dict) else None
        if isinstance(key, str):
            sent = item.get("value")
            yield key, sent if isinstance(sent, str) else _json(sent)


def sent_parameters(value: Any) -> dict[str, str]:
    """A control's ``parameters`` as Terraform lists them (key, value): key -> value as sent."""
    return dict(_sent(value))


def _is_scp(change: PlanChange) -> bool:
    kind = plan_field(change.after, "type") or plan_field(change.before, "type")
    return kind in (None, "SERVICE_CONTROL_POLICY")


def _address(change: PlanChange) -> str:
    return change.address


# Why a plan's value cannot be reviewed, where it is not unknown until apply (PlanUnknown.why).
GIVEN_TWICE = (
    "given twice with different values, and which one Control Tower keeps is not "
    "documented; give each parameter once"
)
TWICE = (
    "the same as another Region deny control's: at most one of the two is in force on the "
    "OU, and which depends on the order of Terraform's calls; keep one"
)
NOT_AN_OU = (
    "the ARN of an OU, which is what Control Tower enables a control on (EnableControl's "
    "targetIdentifier), so which OU the control governs cannot be told"
)


def from_plan(plan: Plan, side: str = "after") -> Deployment:
    """What a plan leaves on each OU ``before`` or ``after`` the change.

    OUs are those carrying a Region deny control or an SCP attachment on
    that side; first-tier OUs named by the ``untargeted_first_tier_ous``
    output are listed as not covered. Every SCP of the plan on that side is
    kept (:attr:`Deployment.policies`), attached in the plan or not, and
    what the plan leaves unknown until apply (:attr:`Deployment.unknowns`).
    """
    names = plan.ou_names
    # A deposed object (an old one a create_before_destroy replace left) shares
    # its instance's address; it is deleted, and the instance is what stays.
    policies: dict[str, PlanChange] = {
        c.address: c for c in plan.of_type(POLICY_TYPE) if c.deposed is None
    }
    unknowns: list[PlanUnknown] = []
    planned: dict[str, PlannedScp] = {}
    for address, pol in policies.items():
        state = _state(pol, side)
        if not isinstance(state, dict) or not _is_scp(pol):
            continue
        content = plan_field(state, "content")
        if _unknown(pol, side, "content"):
            unknowns.append(PlanUnknown(address, ("content",), "the SCP"))
            content = None
        planned[address] = PlannedScp(address, content if isinstance(content, str) else None)
    when = "before" if side == "before" else "after"
    attached: dict[str, list[str]] = {}
    attachments: dict[str, list[PlannedAttachment]] = {}
    unresolved: dict[str, list[str]] = {}
    detached = _detached(plan) if side == "after" else {}
    for att in plan.of_type(ATTACHMENT_TYPE):
        state = _state(att, side)
        if not isinstance(state, dict):
            continue
        target = plan_field(state, "target_id")
        if _unknown(att, side, "target_id") or not isinstance(target, str):
            unresolved.setdefault("?", []).append(f"{att.address}: target unknown")
            unknowns.append(PlanUnknown(att.address, ("target_id",), "the SCP attachment"))
            continue
        if detached.get((target, plan_field(state, "policy_id")), att.address) != att.address:
            continue  # another address of the plan detaches this very SCP from this target
        policy = _attached_policy(plan, att, policies, side)
        if policy is not None and policy in policies and not _is_scp(policies[policy]):
            continue  # another kind of policy: not this project's guard
        attachments.setdefault(target, []).append(PlannedAttachment(att.address, policy))
        if policy is None:
            unresolved.setdefault(target, []).append(f"{att.address}: which SCP it attaches")
        elif policy not in planned:
            unresolved.setdefault(target, []).append(
                f"{att.address}: attaches {policy}, which is not there {when} the change"
            )
        else:
            attached.setdefault(target, []).append(policy)
    controls: dict[str, PlannedControl] = {}
    # By address, so that of two controls on one OU the same one is kept
    # whatever the plan's order (both are refused: TWICE).
    controls_of_plan = sorted(
        (c for c in plan.of_type(CONTROL_TYPE) if c.deposed is None), key=_address
    )
    for ctl in controls_of_plan:
        state = _state(ctl, side)
        if not isinstance(state, dict):
            continue
        ou = ou_id_of_arn(plan_field(state, "target_identifier"))
        found = _parameters(ctl, state, side)
        if _unknown(ctl, side, "target_identifier") or ou is None:
            unresolved.setdefault("?", []).append(f"{ctl.address}: target unknown")
            if _unknown(ctl, side, "target_identifier"):
                attributes = ("target_identifier", *found.unknown)
                unknowns.append(PlanUnknown(ctl.address, attributes, "the Region deny control"))
            elif side == "after":
                target = str(plan_field(state, "target_identifier"))[:120]
                why = f"{target!r}, not {NOT_AN_OU}"
                unknowns.append(
                    PlanUnknown(ctl.address, ("target_identifier",), "the Region deny control", why)
                )
            continue
        pending = tuple(u for u in found.unknown if u not in found.twice)
        if pending:
            unknowns.append(PlanUnknown(ctl.address, pending, "the Region deny control"))
        if found.twice and side == "after":
            unknowns.append(
                PlanUnknown(ctl.address, found.twice, "the Region deny control", GIVEN_TWICE)
            )
        first = controls.get(ou)
        if first is not None:
            # At most one of the two is in force (AWS documents no outcome of
            # enabling a control already enabled on a target); which, the plan cannot say.
            unresolved.setdefault(ou, []).append(
                f"{ctl.address}: a second Region deny control on this OU (with {first.address})"
            )
            if side == "after":
                unknowns.append(
                    PlanUnknown(
                        ctl.address, ("target_identifier",), "the Region deny control", TWICE
                    )
                )
            continue
        controls[ou] = found
    controls_before = {
        ou_id_of_arn(plan_field(c.before, "target_identifier")) for c in plan.of_type(CONTROL_TYPE)
    }
    ours = {plan_field(p.before, "id") for p in policies.values()}
    ous: list[OuDeployment] = []
    decoded: dict[tuple[tuple[str, str], ...], dict[str, tuple[str, ...]]] = {}
    covered = set(attachments) | set(controls) | (set(unresolved) - {"?"})
    for ou_id in sorted(covered, key=lambda i: (names.get(i, ""), i)):
        scps = []
        missing = list(unresolved.get(ou_id, ()))
        for address in sorted(attached.get(ou_id, ())):
            content = planned[address].content
            if content is None:
                missing.append(f"{address}: content")
            else:
                scps.append(ScpDoc(address, content))
        control = controls.get(ou_id)
        values = None
        if control is not None and not control.unknown:
            # The same parameters on many OUs are decoded once.
            key = tuple(sorted(control.raw.items()))
            if key not in decoded:
                decoded[key] = control_values(control.raw)
            values = decoded[key]
        elif control is not None:
            missing.extend(
                f"control {u}{' (given twice)' if u in control.twice else ''}"
                for u in control.unknown
            )
        ous.append(
            OuDeployment(
                OrgUnit(ou_id, names.get(ou_id)),
                tuple(scps),
                values,
                control.raw if control is not None and values is not None else None,
                tuple(missing),
                _other_scps(plan, ou_id, ours, controls_before),
                tuple(attachments.get(ou_id, ())),
                control,
            )
        )
    if "?" in unresolved:
        ous.append(
            OuDeployment(OrgUnit(None, "an unknown OU"), (), None, None, tuple(unresolved["?"]))
        )
    untargeted = plan.output_map("untargeted_first_tier_ous", side)
    reasons = plan.not_covered_reasons(side)
    not_covered = tuple(
        (OrgUnit(i, n), reasons.get(i, "not targeted by the settings"))
        for i, n in sorted((untargeted or {}).items(), key=lambda kv: (kv[1], kv[0]))
    )
    return Deployment(
        f"{plan.source} ({when} the change)",
        tuple(ous),
        not_covered,
        policies=tuple(planned.values()),
        unknowns=tuple(unknowns),
        targets=plan.output_map("targets", side),
        not_covered_known=untargeted is not None,
    )


def _other_scps(
    plan: Plan, ou_id: str, ours: Collection[Any], controls_before: set[str | None]
) -> int | None:
    """SCPs on the OU now that stay and are not this project's, from the plan's read of it.

    The adoption data sources (envs/_shared/adopt.tf) list the SCPs directly
    attached to each target (``ours``: the ids of this project's SCPs). The
    control's own SCP counts once whether or not it is enabled yet.
    """
    attached = plan.attached_scp_ids(ou_id)
    if attached is None:
        return None
    others = len([i for i in attached if i not in ours])
    # An enabled control's own SCP is among those attached; _check_quota counts it apart.
    return max(others - (1 if ou_id in controls_before else 0), 0)


def _detached(plan: Plan) -> dict[tuple[Any, Any], str]:
    """(target id, policy id) -> address of each attachment the plan deletes.

    DetachPolicy takes the SCP off its target whatever Terraform address
    holds it, so after apply no other address of the plan that names the
    same SCP on the same target attaches anything (one object kept at two
    addresses: an attachment re-keyed by hand, or adopted while the state
    already holds it). A replace that attaches another SCP, or to another
    target, detaches its old pair as a delete does.
    """
    out: dict[tuple[Any, Any], str] = {}
    for att in plan.of_type(ATTACHMENT_TYPE):
        if not isinstance(att.before, dict):
            continue
        pair = (plan_field(att.before, "target_id"), plan_field(att.before, "policy_id"))
        # A replace that attaches another SCP (or to another target) detaches the old pair too.
        moved = att.action == "replace" and (
            not isinstance(att.after, dict)
            or (plan_field(att.after, "target_id"), plan_field(att.after, "policy_id")) != pair
        )
        if att.removes_for_good or moved:
            out[pair] = att.address
    return out


def _attached_policy(
    plan: Plan, att: PlanChange, policies: Mapping[str, PlanChange], side: str
) -> str | None:
    if side == "after":
        return plan.policy_of_attachment(att, policies)
    return only_policy_with_id(policies, plan_field(att.before, "policy_id"), ("before",))
