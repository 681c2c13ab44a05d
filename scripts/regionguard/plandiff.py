"""Plan review: what a saved Terraform plan changes, in the reviewer's terms, and the gate.

Reads only the documented JSON plan representation (``terraform show -json
tfplan``), never the human-readable plan text. The analysis is pure: it takes
the decoded plan and returns a :class:`PlanReview`; rendering and the command
line live beside it (:func:`render`, ``regionguard.plangate``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regionguard.errors import InputError
from regionguard.findings import Finding
from regionguard.settings import DEFAULT_SCP_SIZE_LIMIT

SUPPORTED_FORMAT_MAJOR = 1

POLICY_TYPE = "aws_organizations_policy"
ATTACHMENT_TYPE = "aws_organizations_policy_attachment"
CONTROL_TYPE = "aws_controltower_control"
GUARDED_TYPES = frozenset({POLICY_TYPE, ATTACHMENT_TYPE, CONTROL_TYPE})

ACTIONS = ("create", "update", "replace", "delete", "forget")

# Parameters of the Region deny control whose values are allow lists: a value
# added to one of them lets through something that was denied before.
ALLOW_LIST_PARAMETERS = ("AllowedRegions", "ExemptedActions", "ExemptedPrincipalArns")

# Characters one more permitted account adds to a statement's account list:
# a comma and a quoted 12-digit id.
ACCOUNT_COST = len(',"123456789012"')

RULE_DESTROY = "RG-PLAN-DESTROY"
RULE_UNKNOWN = "RG-PLAN-UNKNOWN"
RULE_UNGUARDED = "RG-PLAN-EXEMPTION-UNGUARDED"
RULE_HOME_REGION = "RG-PLAN-HOME-REGION"
RULE_SCP_UNREADABLE = "RG-PLAN-SCP-UNREADABLE"
RULE_ERRORED = "RG-PLAN-ERRORED"
RULE_ACTION = "RG-PLAN-ACTION"

# Validator of one SCP document and the control parameters applied beside it
# (either may be None: an SCP on OUs without the control, a control on an OU
# without an SCP). It returns the findings about the SCP and those about the
# parameters; errors gate the plan, warnings are shown, notes are dropped.
Validator = Callable[[str | None, Mapping[str, str] | None], tuple[list[Finding], list[Finding]]]


# ------------------------------------------------------------------ loading


def load_plan(path: Path) -> dict[str, Any]:
    """Read and check one ``terraform show -json`` plan; InputError (exit 2) otherwise."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such file; write it with `terraform show -json tfplan > {path.name}`"
        ) from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; pass the JSON plan file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}); pass the output of "
            "`terraform show -json tfplan`, not the binary plan file"
        ) from None
    return parse_plan(text, str(path))


def parse_plan(text: str, source: str) -> dict[str, Any]:
    """Decode and check the text of a JSON plan; ``source`` names it in errors."""
    if not text.strip():
        raise InputError(
            f"{source}: the file is empty; write the plan with "
            "`terraform show -json tfplan > FILE` after `terraform plan -out=tfplan`"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "pass the output of `terraform show -json tfplan`, not the plan text "
            "that `terraform plan` prints"
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: the JSON is a {type(data).__name__}, not a plan object; "
            "pass the output of `terraform show -json tfplan`"
        )
    if "lineage" in data and "serial" in data:
        raise InputError(
            f"{source}: this is a Terraform state file, not a plan; run "
            "`terraform plan -out=tfplan` and pass `terraform show -json tfplan`"
        )
    version = data.get("format_version")
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+", version):
        raise InputError(
            f"{source}: no format_version; this is not the output of `terraform show -json tfplan`"
        )
    major = int(version.split(".")[0])
    if major != SUPPORTED_FORMAT_MAJOR:
        age = "older" if major < SUPPORTED_FORMAT_MAJOR else "newer"
        raise InputError(
            f"{source}: plan format_version {version} is {age} than the supported "
            f"{SUPPORTED_FORMAT_MAJOR}.x (written by Terraform 1.1 and later); "
            "re-create the plan JSON with a supported Terraform"
        )
    if "planned_values" not in data and "resource_changes" not in data:
        if "values" in data or set(data) <= {"format_version", "terraform_version"}:
            raise InputError(
                f"{source}: this is the JSON of a Terraform state, not of a plan; "
                "pass `terraform show -json tfplan` for a plan saved with "
                "`terraform plan -out=tfplan`"
            )
        raise InputError(
            f"{source}: neither planned_values nor resource_changes; "
            "this is not the output of `terraform show -json tfplan`"
        )
    if not isinstance(data.get("resource_changes", []), list):
        raise InputError(f"{source}: resource_changes is not a list; the plan JSON is damaged")
    return data


# ------------------------------------------------------------------ domain


@dataclass(frozen=True)
class PlanChange:
    """One resource instance the plan changes."""

    address: str
    resource_type: str
    module_address: str
    key: str | None
    action: str
    actions: tuple[str, ...]
    before: Any
    after: Any
    after_unknown: Any
    action_reason: str | None = None
    importing: bool = False

    @property
    def removes(self) -> bool:
        """True when the existing object goes away or leaves Terraform's management."""
        return self.action in ("delete", "replace", "forget")

    @property
    def removes_for_good(self) -> bool:
        """True when nothing of this resource is managed after apply."""
        return self.action in ("delete", "forget")


@dataclass(frozen=True)
class PolicyView:
    """What an SCP document means for this project: who, where and which actions."""

    content: str
    permitted_accounts: frozenset[str]
    allowed_regions: tuple[str, ...]
    guarded_actions: tuple[str, ...]
    denies_global_inference: bool
    profile_patterns: tuple[str, ...]
    statement_ids: tuple[str, ...]
    account_lists: int
    error: str | None = None

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class Account:
    id: str
    name: str | None

    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name else self.id


@dataclass(frozen=True)
class Widening:
    """A change that lets through a request denied before; listed first, flagged for review."""

    subject: str
    message: str


@dataclass(frozen=True)
class Unknown:
    """A value the plan leaves unknown until apply: it cannot be reviewed."""

    address: str
    attribute: str


@dataclass(frozen=True)
class ScpDiff:
    address: str
    action: str
    before: PolicyView | None
    after: PolicyView | None
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
        room = self.size_limit - self.after.size
        return max(room, 0) // (ACCOUNT_COST * self.after.account_lists)


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
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def has_changes(self) -> bool:
        return any(self.resources.get(a) for a in ACTIONS)


# ------------------------------------------------------------------ helpers


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


def _action_of(actions: Sequence[str]) -> str:
    key = tuple(actions)
    if key in (("delete", "create"), ("create", "delete")):
        return "replace"
    if len(key) == 1 and key[0] in ("create", "update", "delete", "forget", "read", "no-op"):
        return key[0]
    return "+".join(key) or "unknown"


def _is_unknown(after_unknown: Any, attribute: str) -> bool:
    """True when ``attribute`` (or anything inside it) is unknown until apply."""
    if after_unknown is True:
        return True
    if not isinstance(after_unknown, dict):
        return False
    return _contains_true(after_unknown.get(attribute))


def _contains_true(value: Any) -> bool:
    if value is True:
        return True
    if isinstance(value, dict):
        return any(_contains_true(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_true(v) for v in value)
    return False


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else None


def _ou_id_of_arn(arn: Any) -> str | None:
    if not isinstance(arn, str):
        return None
    tail = arn.rsplit("/", 1)[-1]
    return tail if tail.startswith("ou-") or tail.startswith("r-") else None


def _output_map(plan: Mapping[str, Any], name: str, side: str) -> dict[str, str] | None:
    """A map output (OU id -> name) before or after the plan, or None when unknown or absent."""
    change = _field(plan.get("output_changes"), name)
    if not isinstance(change, dict):
        return None
    if side == "after" and _contains_true(change.get("after_unknown")):
        return None
    value = change.get(side)
    if not isinstance(value, dict):
        return None
    return {str(k): str(v) for k, v in value.items()}


def _iter_state_resources(module: Any) -> Iterable[dict[str, Any]]:
    if not isinstance(module, dict):
        return
    for res in module.get("resources") or []:
        if isinstance(res, dict):
            yield res
    for child in module.get("child_modules") or []:
        yield from _iter_state_resources(child)


def _prior_resources(plan: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    values = _field(plan.get("prior_state"), "values")
    return _iter_state_resources(_field(values, "root_module"))


# ------------------------------------------------------------------ SCP semantics


def policy_view(content: str) -> PolicyView:
    """Read an SCP document into what it permits; an unreadable one keeps its error."""
    try:
        doc = json.loads(content)
    except json.JSONDecodeError as exc:
        return _unreadable(content, f"not JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(doc, dict):
        return _unreadable(content, "not a JSON object")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return _unreadable(content, "no Statement list")
    accounts: set[str] = set()
    regions: list[str] = []
    actions: list[str] = []
    patterns: list[str] = []
    sids: list[str] = []
    deny_global = False
    account_lists = 0
    for index, st in enumerate(statements):
        if not isinstance(st, dict):
            return _unreadable(content, f"Statement[{index}] is not an object")
        sids.append(str(st.get("Sid", f"#{index}")))
        if st.get("Effect") != "Deny":
            continue
        condition = st.get("Condition")
        if not isinstance(condition, dict):
            continue
        # Only a Deny gated on the Region guards an action against calls
        # outside the allowed Regions.
        if any(
            str(op).startswith("StringNotEquals")
            and isinstance(keys, dict)
            and any(str(k).lower() == "aws:requestedregion" for k in keys)
            for op, keys in condition.items()
        ):
            actions.extend(a for a in _strings(st.get("Action")) if a not in actions)
        for operator, keys in condition.items():
            if not isinstance(keys, dict):
                continue
            for key, values in keys.items():
                name = str(key).lower()
                items = _strings(values)
                if operator.startswith("StringNotEquals") and name == "aws:principalaccount":
                    accounts.update(items)
                    account_lists += 1
                elif operator == "StringNotEquals" and name == "aws:requestedregion":
                    regions.extend(r for r in items if r not in regions)
                elif operator == "StringEquals" and name == "aws:requestedregion":
                    deny_global = deny_global or "unspecified" in items
                elif operator.startswith("ArnNotLike") and name == "bedrock:inferenceprofilearn":
                    patterns.extend(p for p in items if p not in patterns)
    return PolicyView(
        content=content,
        permitted_accounts=frozenset(accounts),
        allowed_regions=tuple(regions),
        guarded_actions=tuple(actions),
        denies_global_inference=deny_global,
        profile_patterns=tuple(patterns),
        statement_ids=tuple(sids),
        account_lists=account_lists,
    )


def _unreadable(content: str, error: str) -> PolicyView:
    return PolicyView(content, frozenset(), (), (), False, (), (), 0, error)


def _global_option(view: PolicyView) -> str:
    if view.denies_global_inference:
        return "nobody"
    if "unspecified" in view.allowed_regions:
        return "every account"
    return "permitted accounts only"


def _profile_option(view: PolicyView) -> str:
    if not view.profile_patterns:
        return "not required"
    return "required (" + ", ".join(view.profile_patterns) + ")"


def action_covered(action: str, guards: Iterable[str]) -> bool:
    """True when every action that ``action`` names is denied by one of ``guards``.

    IAM action names compare case-insensitively. A guard may be a wildcard
    pattern; an exempted action that is itself a pattern counts as covered only
    by the same pattern or by a guard ``prefix*`` whose prefix it starts with.
    """
    wanted = action.lower()
    wild = any(c in wanted for c in "*?")
    for guard in guards:
        g = guard.lower()
        if g == wanted:
            return True
        if not wild and _wildcard_match(wanted, g):
            return True
        # ``prefix*`` covers every action that a pattern starting with ``prefix`` names.
        prefix = g[:-1]
        literal_prefix = g.endswith("*") and not any(c in prefix for c in "*?")
        if wild and literal_prefix and wanted.startswith(prefix):
            return True
    return False


def _wildcard_match(text: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


# ------------------------------------------------------------------ analysis


def _changes(plan: Mapping[str, Any]) -> list[PlanChange]:
    out: list[PlanChange] = []
    for rc in plan.get("resource_changes") or []:
        if not isinstance(rc, dict) or rc.get("mode", "managed") != "managed":
            continue
        change = rc.get("change")
        if not isinstance(change, dict):
            continue
        actions = tuple(str(a) for a in change.get("actions") or [])
        index = rc.get("index")
        out.append(
            PlanChange(
                address=str(rc.get("address")),
                resource_type=str(rc.get("type")),
                module_address=str(rc.get("module_address") or ""),
                key=None if index is None else str(index),
                action=_action_of(actions),
                actions=actions,
                before=change.get("before"),
                after=change.get("after"),
                after_unknown=change.get("after_unknown"),
                action_reason=rc.get("action_reason"),
                importing=isinstance(change.get("importing"), dict),
            )
        )
    return out


def _names_read(plan: Mapping[str, Any], data_type: str, field: str) -> dict[str, str]:
    """Id -> name of the items in ``field`` of the ``data_type`` data sources the plan read."""
    names: dict[str, str] = {}
    for res in _prior_resources(plan):
        if res.get("type") == data_type:
            for item in _field(res.get("values"), field) or []:
                if isinstance(item, dict) and item.get("id") and item.get("name"):
                    names[str(item["id"])] = str(item["name"])
    return names


def _ou_names(plan: Mapping[str, Any]) -> dict[str, str]:
    """OU id -> name from the plan's outputs and the organization data it read."""
    names = _names_read(plan, "aws_organizations_organizational_units", "children")
    for output in ("targets", "untargeted_first_tier_ous"):
        for side in ("before", "after"):
            names.update(_output_map(plan, output, side) or {})
    return names


def _org_account_names(plan: Mapping[str, Any]) -> dict[str, str]:
    return _names_read(plan, "aws_organizations_organization", "accounts")


def _parameters(value: Any) -> dict[str, tuple[str, ...]] | None:
    """The control's parameters as key -> values, each value decoded from its JSON string."""
    if not isinstance(value, list):
        return None
    params: dict[str, tuple[str, ...]] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        raw = item.get("value")
        decoded: Any = raw
        if isinstance(raw, str):
            try:
                decoded = json.loads(raw)
            except json.JSONDecodeError:
                decoded = raw
        params[item["key"]] = _strings(decoded)
    return params


def _raw_parameters(value: Any) -> dict[str, str] | None:
    """The control's parameters as key -> JSON string, exactly as sent to Control Tower."""
    if not isinstance(value, list):
        return None
    out: dict[str, str] = {}
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            raw = item.get("value")
            out[item["key"]] = raw if isinstance(raw, str) else json.dumps(raw)
    return out


def _unknown_parameter_keys(change: PlanChange) -> tuple[str, ...]:
    """Names of the control parameters whose key or value is unknown until apply."""
    unknown = _field(change.after_unknown, "parameters")
    if unknown is True:
        return ("parameters",)
    if not isinstance(unknown, list):
        return ()
    after = _field(change.after, "parameters")
    keys: list[str] = []
    for i, item in enumerate(unknown):
        if _contains_true(item):
            known = after[i] if isinstance(after, list) and i < len(after) else None
            key = _field(known, "key")
            keys.append(f"parameters.{key}" if isinstance(key, str) else f"parameters[{i}]")
    return tuple(keys)


def _policy_for_attachment(
    plan: Mapping[str, Any], att: PlanChange, policies: Mapping[str, PlanChange]
) -> str | None:
    """Address of the policy an attachment attaches, or None when it cannot be told."""
    policy_id = _field(att.after, "policy_id")
    if isinstance(policy_id, str) and not _is_unknown(att.after_unknown, "policy_id"):
        for address, pol in policies.items():
            for side in (pol.after, pol.before):
                if _field(side, "id") == policy_id:
                    return address
        return None
    module = _config_module(plan, att.module_address)
    resource_name = att.address.split("[", 1)[0].rsplit(".", 2)
    local = ".".join(resource_name[-2:])
    for res in _field(module, "resources") or []:
        if _field(res, "address") != local:
            continue
        refs = _field(_field(_field(res, "expressions"), "policy_id"), "references") or []
        for ref in refs:
            match = re.fullmatch(rf"{POLICY_TYPE}\.([A-Za-z0-9_-]+)(\.id)?", str(ref))
            if match:
                prefix = f"{att.module_address}." if att.module_address else ""
                return f"{prefix}{POLICY_TYPE}.{match.group(1)}"
    return None


def _config_module(plan: Mapping[str, Any], module_address: str) -> Any:
    module = _field(plan.get("configuration"), "root_module")
    if not module_address:
        return module
    for part in module_address.split("."):
        if part == "module":
            continue
        name = part.split("[", 1)[0]
        module = _field(_field(_field(module, "module_calls"), name), "module")
    return module


@dataclass
class _Collector:
    """What the review steps accumulate (mutable, private to one review)."""

    source: str
    reasons: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    widening: list[Widening] = field(default_factory=list)
    unknowns: list[Unknown] = field(default_factory=list)

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
    raw: Mapping[str, str]
    changed: bool


@dataclass(frozen=True)
class _Attachments:
    """Which SCPs each OU will have after apply, and what was attached before."""

    after: Mapping[str, frozenset[str]]
    unresolved: frozenset[str]
    before: frozenset[str]


def review_plan(
    plan: Mapping[str, Any],
    *,
    source: str = "plan.json",
    allow_destroy: bool = False,
    account_names: Mapping[str, str] | None = None,
    home_region: str | None = None,
    size_limit: int = DEFAULT_SCP_SIZE_LIMIT,
    validator: Validator | None = None,
) -> PlanReview:
    """Review a decoded JSON plan: the semantic summary and the gate's reasons.

    ``account_names`` (id -> name, e.g. from the registry) names accounts; the
    organization data the plan read fills the gaps. ``home_region`` defaults to
    the plan's ``home_region`` variable. ``validator`` checks each planned SCP
    document with the control parameters applied beside it.
    """
    col = _Collector(source)
    changes = _changes(plan)
    ou_names = _ou_names(plan)
    names = {**_org_account_names(plan), **(account_names or {})}
    if home_region is None:
        var = _field(_field(plan.get("variables"), "home_region"), "value")
        home_region = var if isinstance(var, str) else None
    if plan.get("errored") is True:
        col.reason(
            RULE_ERRORED,
            "Terraform reported errors while planning: the plan is incomplete; "
            "fix the errors and plan again.",
        )

    resources = _gate_actions(changes, allow_destroy, col)
    policies = {c.address: c for c in changes if c.resource_type == POLICY_TYPE}
    views, scps = _review_scps(policies, names, size_limit, col)
    attachments = _review_attachments(plan, changes, policies, col)
    planned, controls = _review_controls(changes, ou_names, col)
    not_covered, newly = _coverage(plan, changes, planned, attachments, ou_names, col)
    _check_controls(planned, attachments, views, home_region, ou_names, col)
    if validator is not None:
        _validate(validator, policies, views, planned, attachments, ou_names, col)

    drift = _drift(plan)
    return PlanReview(
        source=source,
        format_version=str(plan.get("format_version")),
        terraform_version=plan.get("terraform_version"),
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
) -> tuple[dict[str, PolicyView | None], list[ScpDiff]]:
    """Each SCP's planned document (None when deleted or unknown) and the diffs of changed ones."""
    views: dict[str, PolicyView | None] = {}
    diffs: list[ScpDiff] = []
    for address, pol in policies.items():
        if (_field(pol.after, "type") or _field(pol.before, "type")) not in (
            None,
            "SERVICE_CONTROL_POLICY",
        ):
            continue
        content = _field(pol.before, "content")
        before = policy_view(content) if isinstance(content, str) else None
        after: PolicyView | None = None
        unknown = not pol.removes_for_good and _is_unknown(pol.after_unknown, "content")
        if unknown:
            col.unknown(address, ("content",), "the SCP")
        elif not pol.removes_for_good:
            content = _field(pol.after, "content")
            after = policy_view(content) if isinstance(content, str) else None
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
    plan: Mapping[str, Any],
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
        old = _field(att.before, "target_id")
        if isinstance(old, str):
            before.add(old)
        if att.removes_for_good:
            continue
        target = _field(att.after, "target_id")
        if _is_unknown(att.after_unknown, "target_id") or not isinstance(target, str):
            col.unknown(att.address, ("target_id",), "the SCP attachment")
            continue
        policy = _policy_for_attachment(plan, att, policies)
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
        before_ou = _ou_id_of_arn(_field(ctl.before, "target_identifier"))
        after_ou = None
        unknown: tuple[str, ...] = ()
        after_params = None
        if not ctl.removes_for_good:
            after_ou = _ou_id_of_arn(_field(ctl.after, "target_identifier"))
            unknown = _unknown_parameter_keys(ctl)
            if _is_unknown(ctl.after_unknown, "target_identifier"):
                unknown = ("target_identifier", *unknown)
            after_params = _parameters(_field(ctl.after, "parameters"))
        if unknown:
            col.unknown(ctl.address, unknown, "the Region deny control")
        elif after_ou is not None and after_params is not None:
            raw = _raw_parameters(_field(ctl.after, "parameters")) or {}
            changed = ctl.action not in ("no-op", "read")
            planned[ctl.address] = _PlannedControl(after_ou, after_params, raw, changed)
        if ctl.action in ("no-op", "read"):
            continue
        ou_id = after_ou or before_ou or ctl.key
        diff = ControlDiff(
            address=ctl.address,
            action=ctl.action,
            ou_id=ou_id,
            ou_name=ou_names.get(ou_id or ""),
            parameters=_parameter_diffs(
                _parameters(_field(ctl.before, "parameters")), after_params, unknown
            ),
            after_unknown=unknown,
        )
        diffs.append(diff)
    order = _sort_ou(ou_names)
    diffs.sort(key=lambda d: order(d.ou_id or ""))
    col.widening.extend(_control_widening(diffs))
    return planned, diffs


def _coverage(
    plan: Mapping[str, Any],
    changes: Sequence[PlanChange],
    planned: Mapping[str, _PlannedControl],
    attachments: _Attachments,
    ou_names: Mapping[str, str],
    col: _Collector,
) -> tuple[tuple[OuRef, ...] | None, tuple[OuRef, ...]]:
    """First-tier OUs not covered after apply, and OUs that lose coverage in this plan."""
    order = _sort_ou(ou_names)
    untargeted = _output_map(plan, "untargeted_first_tier_ous", "after")
    not_covered = (
        None
        if untargeted is None
        else tuple(OuRef(i, ou_names.get(i)) for i in sorted(untargeted, key=order))
    )
    controlled_before: set[str] = set()
    controlled_after = {p.ou_id for p in planned.values()}
    for ctl in changes:
        if ctl.resource_type != CONTROL_TYPE:
            continue
        ou = _ou_id_of_arn(_field(ctl.before, "target_identifier"))
        if ou:
            controlled_before.add(ou)
        if not ctl.removes_for_good:
            # Unknown parameters still leave a control on the OU.
            ou = _ou_id_of_arn(_field(ctl.after, "target_identifier"))
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
                Widening(f"OU {ref.label()}", f"OU {ref.label()} loses {' and '.join(lost)}")
            )
    before_targets = _output_map(plan, "targets", "before")
    after_targets = _output_map(plan, "targets", "after")
    if before_targets is not None and after_targets is not None:
        for ou in sorted(set(before_targets) - set(after_targets), key=order):
            if all(ref.id != ou for ref in newly):
                ref = OuRef(ou, ou_names.get(ou))
                newly.append(ref)
                col.widening.append(
                    Widening(f"OU {ref.label()}", f"OU {ref.label()} is no longer a target")
                )
    return not_covered, tuple(newly)


def _check_controls(
    planned: Mapping[str, _PlannedControl],
    attachments: _Attachments,
    views: Mapping[str, PolicyView | None],
    home_region: str | None,
    ou_names: Mapping[str, str],
    col: _Collector,
) -> None:
    """Exemptions guarded by an SCP attached to the same OU; the home Region allowed.

    OUs with the same problem share one reason, so that a change applied to
    every OU reads as one reason naming them all.
    """
    problems: dict[tuple[str, str], list[str]] = {}
    order = _sort_ou(ou_names)
    for ctl in sorted(planned.values(), key=lambda c: order(c.ou_id)):
        label = _ou_label(ctl.ou_id, ou_names.get(ctl.ou_id), ctl.ou_id)
        exempted = ctl.parameters.get("ExemptedActions", ())
        guards: list[str] = []
        unsure = ctl.ou_id in attachments.unresolved
        for policy in sorted(attachments.after.get(ctl.ou_id, ())):
            view = views.get(policy)
            if view is None:
                unsure = True
            else:
                guards.extend(view.guarded_actions)
        missing = [a for a in exempted if not action_covered(a, guards)]
        if missing and unsure:
            detail = (
                f"exempts {', '.join(missing)} from the Region deny, and whether an SCP "
                "attached to the same OU denies it cannot be told from the plan"
            )
            problems.setdefault((RULE_UNGUARDED, detail), []).append(label)
        elif missing:
            detail = (
                f"exempts {', '.join(missing)} from the Region deny, but no SCP attached to "
                "the same OU denies it: it would be open to every account in every Region"
            )
            problems.setdefault((RULE_UNGUARDED, detail), []).append(label)
        if "AllowedRegions" not in ctl.parameters:
            continue
        if home_region is None:
            detail = (
                "the home Region is not known (the plan has no home_region variable); "
                "pass --home-region"
            )
            problems.setdefault((RULE_HOME_REGION, detail), []).append(label)
        elif home_region not in ctl.parameters["AllowedRegions"]:
            detail = (
                f"AllowedRegions lacks the home Region {home_region}; denying the Control "
                "Tower home Region breaks the landing zone"
            )
            problems.setdefault((RULE_HOME_REGION, detail), []).append(label)
    for (rule, detail), ous in problems.items():
        col.reason(
            rule,
            f"Region deny control on {_count(len(ous), 'OU')} ({', '.join(ous)}): {detail}.",
            ", ".join(ous),
        )


def _validate(
    validator: Validator,
    policies: Mapping[str, PlanChange],
    views: Mapping[str, PolicyView | None],
    planned: Mapping[str, _PlannedControl],
    attachments: _Attachments,
    ou_names: Mapping[str, str],
    col: _Collector,
) -> None:
    """Validate what changes: each SCP and control parameter set, paired as attached to OUs.

    A changed SCP is checked with the parameters of each OU it is attached to,
    and a changed control with each SCP attached to its OU; identical pairs
    are checked once, and a finding about parameters names every OU they
    apply to.
    """
    changed_scps = {
        a for a, v in views.items() if v is not None and policies[a].action not in ("no-op", "read")
    }
    pairs: dict[tuple[str | None, tuple[tuple[str, str], ...] | None], tuple[set[str], set[str]]]
    pairs = {}
    order = _sort_ou(ou_names)
    for ctl in sorted(planned.values(), key=lambda c: order(c.ou_id)):
        scps = sorted(a for a in attachments.after.get(ctl.ou_id, ()) if views.get(a) is not None)
        params_key = tuple(sorted(ctl.raw.items()))
        label = _ou_label(ctl.ou_id, ou_names.get(ctl.ou_id), ctl.ou_id)
        targets: list[str | None] = [*scps] or [None]
        for address in targets:
            if not ctl.changed and address not in changed_scps:
                continue
            view = views.get(address) if address else None
            key = (view.content if view else None, params_key)
            scp_addresses, ous = pairs.setdefault(key, (set(), set()))
            if address:
                scp_addresses.add(address)
            ous.add(label)
    paired = {a for addresses, _ous in pairs.values() for a in addresses}
    for address in sorted(changed_scps - paired):
        view = views[address]
        assert view is not None
        pairs.setdefault((view.content, None), (set(), set()))[0].add(address)
    for (content, raw_items), (scp_addresses, ous) in pairs.items():
        params = dict(raw_items) if raw_items is not None else None
        scp_findings, control_findings = validator(content, params)
        scp_where = ", ".join(sorted(scp_addresses))
        ou_list = sorted(ous, key=lambda label: (label.partition(" (")[2], label))
        ctl_where = f"Region deny control on {_count(len(ou_list), 'OU')} ({', '.join(ou_list)})"
        for found, where in ((scp_findings, scp_where), (control_findings, ctl_where)):
            for f in found:
                if f.level == "note":
                    continue
                located = Finding(
                    f.rule_id, f.level, f"{where}: {f.message}", file=col.source, entry=where
                )
                (col.reasons if f.level == "error" else col.warnings).append(located)


# Attributes whose change outside Terraform matters to a reviewer.
DRIFT_ATTRIBUTES = {
    POLICY_TYPE: ("content", "name", "type"),
    ATTACHMENT_TYPE: ("policy_id", "target_id"),
    CONTROL_TYPE: ("control_identifier", "parameters", "target_identifier"),
}


def _drift(plan: Mapping[str, Any]) -> tuple[str, ...]:
    """What changed outside Terraform in the guarded resources since the last apply."""
    out = []
    for drift in plan.get("resource_drift") or []:
        if not isinstance(drift, dict) or drift.get("type") not in DRIFT_ATTRIBUTES:
            continue
        change = drift.get("change")
        before, after = _field(change, "before"), _field(change, "after")
        if not isinstance(after, dict):
            out.append(f"{drift.get('address')}: deleted outside Terraform")
            continue
        changed = [
            a for a in DRIFT_ATTRIBUTES[str(drift["type"])] if _field(before, a) != after.get(a)
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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _scp_diff(
    address: str,
    action: str,
    before: PolicyView | None,
    after: PolicyView | None,
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
        for label, get in (
            ("Global inference profiles allowed for", _global_option),
            ("Inference profile for out-of-Region calls", _profile_option),
        ):
            if get(before) != get(after):
                options.append((label, get(before), get(after)))
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
        out.append(Widening(subject, "the SCP is deleted: its denies stop applying"))
        return out
    for acct in diff.accounts_added:
        out.append(Widening(subject, f"account {acct.label()} newly permitted"))
    for region in diff.regions_added:
        out.append(Widening(subject, f"Region {region} added to the allowed Regions"))
    for act in diff.actions_removed:
        out.append(Widening(subject, f"action {act} no longer guarded"))
    for label, old, new in diff.options:
        if _option_rank(new) > _option_rank(old):
            out.append(Widening(subject, f"{label}: {old} → {new}"))
    for sid in diff.statements_removed:
        out.append(Widening(subject, f"statement {sid} removed"))
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
    for diff in diffs:
        label = diff.ou_label()
        if diff.action == "forget":
            by_change.setdefault(
                "the Region deny control leaves Terraform's management", []
            ).append(label)
        if diff.action != "update" and diff.action != "replace":
            continue  # a new control only denies; a lost one is reported under coverage
        for p in diff.parameters:
            if p.unknown or (p.before is None and p.after is None):
                continue
            if p.key in ALLOW_LIST_PARAMETERS:
                for value in p.added:
                    by_change.setdefault(f"{p.key} + {value}", []).append(label)
            else:
                by_change.setdefault(f"parameter {p.key} changed", []).append(label)
    out = []
    for change, ous in by_change.items():
        where = f"OU {ous[0]}" if len(ous) == 1 else f"{len(ous)} OUs: {', '.join(ous)}"
        out.append(Widening("Region deny control", f"{change} on {where}"))
    return out


# ------------------------------------------------------------------ rendering


def render(review: PlanReview, fmt: str) -> str:
    """The review as ``text``, ``markdown`` or ``json``."""
    if fmt == "json":
        return json.dumps(to_json(review), indent=2, sort_keys=False) + "\n"
    if fmt == "markdown":
        return _markdown(review)
    return _text(review)


def to_json(review: PlanReview) -> dict[str, Any]:
    def accounts(items: Iterable[Account]) -> list[dict[str, Any]]:
        return [{"id": a.id, "name": a.name} for a in items]

    return {
        "plan": review.source,
        "format_version": review.format_version,
        "terraform_version": review.terraform_version,
        "home_region": review.home_region,
        "gate": {
            "passed": review.passed,
            "allow_destroy": review.allow_destroy,
            "reasons": [f.to_dict() for f in review.reasons],
        },
        "widening": [{"subject": w.subject, "message": w.message} for w in review.widening],
        "resources": {k: list(v) for k, v in review.resources.items()},
        "scps": [
            {
                "address": s.address,
                "action": s.action,
                "content_unknown": s.after_unknown,
                "accounts_added": accounts(s.accounts_added),
                "accounts_removed": accounts(s.accounts_removed),
                "regions_added": list(s.regions_added),
                "regions_removed": list(s.regions_removed),
                "actions_added": list(s.actions_added),
                "actions_removed": list(s.actions_removed),
                "options": [{"option": o, "before": b, "after": a} for o, b, a in s.options],
                "statements_added": list(s.statements_added),
                "statements_removed": list(s.statements_removed),
                "size_before": s.before.size if s.before else None,
                "size_after": s.after.size if s.after else None,
                "size_limit": s.size_limit,
                "headroom": s.headroom,
                "room_for_accounts": s.room_for_accounts,
            }
            for s in review.scps
        ],
        "controls": [
            {
                "address": c.address,
                "action": c.action,
                "ou_id": c.ou_id,
                "ou_name": c.ou_name,
                "unknown": list(c.after_unknown),
                "parameters": [
                    {
                        "key": p.key,
                        "before": None if p.before is None else list(p.before),
                        "after": None if p.after is None else list(p.after),
                        "added": list(p.added),
                        "removed": list(p.removed),
                    }
                    for p in c.parameters
                ],
            }
            for c in review.controls
        ],
        "coverage": {
            "not_covered": None
            if review.not_covered is None
            else [{"id": o.id, "name": o.name} for o in review.not_covered],
            "newly_not_covered": [{"id": o.id, "name": o.name} for o in review.newly_not_covered],
        },
        "unknown": [{"address": u.address, "attribute": u.attribute} for u in review.unknowns],
        "warnings": [f.to_dict() for f in review.warnings],
        "drift": list(review.drift),
    }


def _verdict(review: PlanReview) -> str:
    if review.passed:
        return "passed"
    return f"FAILED ({_count(len(review.reasons), 'reason')})"


def _resource_counts(review: PlanReview) -> str:
    parts = [
        f"{len(review.resources.get(a, ()))} to {a}"
        for a in ("create", "update", "replace", "delete")
    ]
    extra = [
        f"{len(v)} to {k}"
        for k, v in review.resources.items()
        if k not in ("create", "update", "replace", "delete") and v
    ]
    return ", ".join(parts + extra)


def _scp_lines(s: ScpDiff) -> list[str]:
    """Plain sentences describing one SCP change (shared by text and markdown)."""
    lines: list[str] = []
    if s.after_unknown:
        lines.append("Content: unknown until apply (cannot be reviewed)")
    if s.action == "delete":
        lines.append("Deleted: its denies stop applying")

    def accts(items: tuple[Account, ...]) -> str:
        return ", ".join(a.label() for a in items)

    if s.accounts_added:
        lines.append(f"Accounts newly permitted: {accts(s.accounts_added)}")
    if s.accounts_removed:
        lines.append(f"Accounts no longer permitted: {accts(s.accounts_removed)}")
    if s.before is None and s.after is not None:
        everyone = "none (the deny applies to every account)"
        lines.append(f"Accounts permitted: {accts(s.permitted) or everyone}")
        lines.append(f"Allowed Regions: {', '.join(s.after.allowed_regions) or 'none'}")
        lines.append(f"Guarded actions: {', '.join(s.after.guarded_actions) or 'none'}")
        lines.append(f"Global inference profiles allowed for: {_global_option(s.after)}")
        lines.append(f"Inference profile for out-of-Region calls: {_profile_option(s.after)}")
    if s.regions_added:
        lines.append(f"Regions added: {', '.join(s.regions_added)}")
    if s.regions_removed:
        lines.append(f"Regions removed: {', '.join(s.regions_removed)}")
    if s.actions_added:
        lines.append(f"Actions added: {', '.join(s.actions_added)}")
    if s.actions_removed:
        lines.append(f"Actions removed: {', '.join(s.actions_removed)}")
    for label, old, new in s.options:
        lines.append(f"{label}: {old} → {new}")
    if s.statements_added:
        lines.append(f"Statements added: {', '.join(s.statements_added)}")
    if s.statements_removed:
        lines.append(f"Statements removed: {', '.join(s.statements_removed)}")
    if s.after is None:
        state = "unknown until apply" if s.after_unknown else "none after apply"
        size = f"Size: {state} (limit {s.size_limit:,} characters)"
    else:
        before = f"{s.before.size:,} → " if s.before else ""
        size = f"Size: {before}{s.after.size:,} of {s.size_limit:,} characters"
        room = s.size_limit - s.after.size
        if room < 0:
            size += f" ({-room:,} over the limit)"
        elif s.room_for_accounts is not None:
            size += f" ({room:,} left: room for about {s.room_for_accounts:,} more accounts)"
        else:
            size += f" ({room:,} left)"
    lines.append(size)
    return lines


def _parameter_text(p: ParameterDiff) -> str:
    if p.unknown:
        return f"{p.key} unknown until apply"
    if p.after is None:
        return f"{p.key} removed (was {', '.join(p.before or ()) or 'empty'})"
    if p.before is None:
        return f"{p.key} = {', '.join(p.after) or '(empty)'}"
    parts = [f"+{v}" for v in p.added] + [f"-{v}" for v in p.removed]
    return f"{p.key} {' '.join(parts)}" if parts else f"{p.key} reordered"


def _control_text(c: ControlDiff) -> str:
    if c.action in ("delete", "forget"):
        return (
            "Region deny control removed"
            if c.action == "delete"
            else "leaves Terraform's management"
        )
    items = [_parameter_text(p) for p in c.parameters]
    if c.after_unknown and not items:
        items = [f"{', '.join(c.after_unknown)} unknown until apply"]
    return "; ".join(items) or "no parameter change"


def _text(review: PlanReview) -> str:
    out: list[str] = [f"Plan review of {review.source}: gate {_verdict(review)}"]
    for f in review.reasons:
        out.append(f"  REASON: {f.message} [{f.rule_id}]")
    if review.widening:
        out.append("Widening changes (review before approving):")
        out.extend(f"  WIDENING: {w.message}" for w in review.widening)
    out.append(f"Resources: {_resource_counts(review)}")
    for action in review.resources:
        for address in review.resources[action]:
            out.append(f"  {action}: {address}")
    for s in review.scps:
        out.append(f"SCP {s.address} ({s.action}):")
        out.extend(f"  {line}" for line in _scp_lines(s))
    if review.controls:
        out.append("Region deny control per OU:")
        out.extend(f"  {c.ou_label()} ({c.action}): {_control_text(c)}" for c in review.controls)
    out.append(f"First-tier OUs not covered: {_ou_list(review.not_covered)}")
    if review.unknowns:
        out.append("Unknown until apply (cannot be reviewed):")
        out.extend(f"  {u.address}: {u.attribute}" for u in review.unknowns)
    for f in review.warnings:
        out.append(f"  WARNING: {f.message} [{f.rule_id}]")
    if review.drift:
        out.append("Changed outside Terraform:")
        out.extend(f"  {d}" for d in review.drift)
    return "\n".join(out) + "\n"


def _ou_list(ous: tuple[OuRef, ...] | None) -> str:
    if ous is None:
        return "unknown (the plan has no untargeted_first_tier_ous output)"
    return ", ".join(o.label() for o in ous) or "none"


def _md(text: str) -> str:
    """Escape the characters markdown would take as formatting in table cells and lists."""
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", text)


def _markdown(review: PlanReview) -> str:
    out: list[str] = []
    status = "passed" if review.passed else "**failed**"
    out.append(f"## Plan review: gate {status}")
    out.append("")
    if not review.has_changes:
        out.append("No changes to the Region deny control, the SCP or their attachments.")
        out.append("")
    if review.reasons:
        out.append(f"### Gate failed: {_count(len(review.reasons), 'reason')}")
        out.append("")
        out.extend(f"- {_md(f.message)} `{f.rule_id}`" for f in review.reasons)
        out.append("")
    if review.widening:
        out.append("### Widening changes: review before approving")
        out.append("")
        out.extend(f"- :warning: {_md(w.message)}" for w in review.widening)
        out.append("")
    if review.has_changes:
        out.append("### Resources")
        out.append("")
        out.append("| Action | Count |")
        out.append("|---|---:|")
        for action, addresses in review.resources.items():
            if action in ("create", "update", "replace", "delete") or addresses:
                out.append(f"| {action} | {len(addresses)} |")
        out.append("")
        out.append("<details><summary>Addresses</summary>")
        out.append("")
        for action, addresses in review.resources.items():
            out.extend(f"- {action} `{a}`" for a in addresses)
        out.append("")
        out.append("</details>")
        out.append("")
    for s in review.scps:
        out.append(f"### SCP `{s.address}` ({s.action})")
        out.append("")
        out.extend(f"- {_md(line)}" for line in _scp_lines(s))
        out.append("")
    if review.controls:
        out.append("### Region deny control per OU")
        out.append("")
        out.append("| OU | Action | Parameters |")
        out.append("|---|---|---|")
        for c in review.controls:
            out.append(f"| {_md(c.ou_label())} | {c.action} | {_md(_control_text(c))} |")
        out.append("")
    out.append("### Coverage")
    out.append("")
    out.append(f"- First-tier OUs not covered: {_md(_ou_list(review.not_covered))}")
    if review.newly_not_covered:
        newly = ", ".join(o.label() for o in review.newly_not_covered)
        out.append(f"- Newly not covered: {_md(newly)}")
    out.append("")
    if review.unknowns:
        out.append("### Unknown until apply")
        out.append("")
        out.extend(f"- `{u.address}`: {_md(u.attribute)}" for u in review.unknowns)
        out.append("")
    if review.warnings:
        out.append("### Warnings")
        out.append("")
        out.extend(f"- {_md(f.message)} `{f.rule_id}`" for f in review.warnings)
        out.append("")
    if review.drift:
        out.append("### Changed outside Terraform")
        out.append("")
        out.extend(f"- {_md(d)}" for d in review.drift)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
