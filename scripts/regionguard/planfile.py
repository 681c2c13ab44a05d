"""The one reader of a saved plan's JSON (``terraform show -json tfplan``).

Reads only the documented JSON plan representation (Terraform's "JSON
Output Format" page), never the human-readable plan text. :func:`load_plan`
checks what every later step relies on, so that a damaged or foreign file is
an input error (exit 2) here and nowhere else: the format version, the types
of the parts that are walked, and a bounded nesting depth.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard import inputfile
from regionguard.errors import InputError
from regionguard.strictjson import KeyGivenTwice, unique_keys

__all__ = [
    "ATTACHMENT_TYPE",
    "CONTROL_TYPE",
    "POLICY_TYPE",
    "Plan",
    "PlanChange",
    "contains_true",
    "field",
    "is_unknown",
    "load_plan",
    "only_policy_with_id",
    "parse_plan",
]

SUPPORTED_FORMAT_MAJOR = 1
# Terraform's plans of this project nest about 15 levels deep; far deeper is
# not a plan, and would exhaust the stack of a recursive reader.
MAX_DEPTH = 200

POLICY_TYPE = "aws_organizations_policy"
ATTACHMENT_TYPE = "aws_organizations_policy_attachment"
# Root output naming the policy of each attachment (envs/_shared/outputs.tf).
ATTACHMENT_POLICIES_OUTPUT = "scp_attachment_policies"
CONTROL_TYPE = "aws_controltower_control"
FIRST_TIER_DATA = "aws_organizations_organizational_units"
ORGANIZATION_DATA = "aws_organizations_organization"
DESCENDANT_ACCOUNTS_DATA = "aws_organizations_organizational_unit_descendant_accounts"
POLICIES_FOR_TARGET_DATA = "aws_organizations_policies_for_target"


def load_plan(path: Path) -> Plan:
    """Read and check one ``terraform show -json`` plan; InputError (exit 2) otherwise."""
    raw = inputfile.read_bytes(
        path,
        inputfile.PLAN_JSON,
        missing=f"no such file; write it with `terraform show -json tfplan > {path.name}`",
    )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}); pass the output of "
            "`terraform show -json tfplan`, not the binary plan file"
        ) from None
    return parse_plan(text, str(path))


class _Refused(ValueError):
    """Raised while decoding: what makes the text no plan Terraform wrote."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    try:
        return unique_keys(pairs)
    except KeyGivenTwice as exc:
        raise _Refused(
            f"the key {json.dumps(exc.key)[:80]} is written twice in one object; JSON readers "
            "disagree on which one counts (this one would read the last)"
        ) from None


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number (Terraform never writes it)")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused(f"the number {text[:40]} is too large for any reader to keep")
    return value


# A UTF-16 surrogate written as an escape (\ud800 to \udfff); decoded text
# holds none otherwise.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_surrogate(data: Any) -> str | None:
    """The first string (or key) of ``data`` that holds a lone surrogate, or None."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _decode(text: str, source: str) -> Any:
    try:
        data = json.loads(
            text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_finite
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "pass the output of `terraform show -json tfplan`, not the plan text "
            "that `terraform plan` prints"
        ) from None
    except _Refused as exc:
        raise InputError(
            f"{source}: {exc}; pass the output of `terraform show -json tfplan` unedited"
        ) from None
    except RecursionError:
        raise InputError(
            f"{source}: the JSON is nested deeper than any plan; pass the output of "
            "`terraform show -json tfplan`"
        ) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise InputError(
            f"{source}: not a plan Terraform wrote ({str(exc)[:80]}); pass the output of "
            "`terraform show -json tfplan` unedited"
        ) from None
    if _SURROGATE_ESCAPE.search(text):
        bad = _lone_surrogate(data)
        if bad is not None:
            raise InputError(
                f"{source}: the string {ascii(bad)[:80]} holds a lone UTF-16 surrogate, which "
                "is no Unicode text (Terraform never writes one); pass the output of "
                "`terraform show -json tfplan` unedited"
            )
    return data


def parse_plan(text: str, source: str) -> Plan:
    """Decode and check the text of a JSON plan; ``source`` names it in errors.

    Refused, each with its reason: what is not JSON, a key written twice in
    one object, ``NaN``/``Infinity`` and numbers too large to be finite, lone
    surrogates, a state instead of a plan, an unsupported ``format_version``,
    and a plan that is not whole (:func:`_check_whole`).
    """
    if not text.strip():
        raise InputError(
            f"{source}: the file is empty; write the plan with "
            "`terraform show -json tfplan > FILE` after `terraform plan -out=tfplan`"
        )
    data = _decode(text, source)
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
    _check_structure(data, source)
    _check_whole(data, source)
    return Plan(data, source)


# Terraform's "JSON Output Format" page: a plan says whether it is complete
# (false after -target, or with deferred changes), applyable (false when the
# plan failed, or found nothing to change) and errored (the planning failed).
# Terraform 1.8 and later write all three; this project needs 1.11.
WHOLE_PLAN_FIELDS = ("complete", "applyable", "errored")


def _check_whole(data: Mapping[str, Any], source: str) -> None:
    """Refuse a plan that is not whole: errored, incomplete, or not applyable yet changing."""
    for name in WHOLE_PLAN_FIELDS:
        if not isinstance(data.get(name), bool):
            raise InputError(
                f"{source}: {name} is {'missing' if name not in data else 'not true or false'}; "
                "Terraform 1.8 and later write it in every plan: re-create the plan JSON with "
                "`terraform show -json tfplan` of a supported Terraform (1.11 or later)"
            )
    if data["errored"]:
        raise InputError(
            f"{source}: errored is true: Terraform failed while planning, so the changes "
            "listed are not the whole plan; fix the errors `terraform plan` printed and plan again"
        )
    if not data["complete"]:
        raise InputError(
            f"{source}: complete is false: this plan leaves changes out (made with -target, "
            "or with changes deferred), so applying it would not bring AWS to the "
            "configuration the review reads; plan again without -target"
        )
    if data.get("deferred_changes"):
        raise InputError(
            f"{source}: deferred_changes lists changes Terraform left for a later plan, so "
            "this plan is not whole (whatever complete says); plan again once the values "
            "they wait for are known"
        )
    if not data["applyable"] and _changes_something(data):
        raise InputError(
            f"{source}: applyable is false, yet resource_changes lists changes: Terraform "
            "writes that only for a plan that failed; plan again"
        )


def _changes_something(data: Mapping[str, Any]) -> bool:
    for item in data.get("resource_changes") or []:
        actions = item["change"]["actions"]
        if any(a not in ("no-op", "read") for a in actions):
            return True
    return False


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return deepest


def _check_structure(data: Mapping[str, Any], source: str) -> None:
    """Types of the parts the review walks; the plan JSON is damaged otherwise."""
    damaged = f"{source}: the plan JSON is damaged"
    if _depth(data) > MAX_DEPTH:
        raise InputError(
            f"{source}: the JSON is nested more than {MAX_DEPTH} levels deep, which no plan "
            "is; pass the output of `terraform show -json tfplan`"
        )
    for key in ("variables", "output_changes", "prior_state", "configuration", "planned_values"):
        if key in data and not isinstance(data[key], dict):
            raise InputError(f"{damaged}: {key} is not an object")
    for key in ("resource_changes", "resource_drift"):
        items = data.get(key, [])
        if not isinstance(items, list):
            raise InputError(f"{damaged}: {key} is not a list")
        # Terraform lists each object once: an instance, or one of its deposed objects.
        seen: dict[tuple[str, Any], int] = {}
        for i, item in enumerate(items):
            where = f"{damaged}: {key}[{i}]"
            if not isinstance(item, dict):
                raise InputError(f"{where} is not an object")
            for name in ("address", "type"):
                if not isinstance(item.get(name), str):
                    raise InputError(f"{where}.{name} is not a string")
            deposed = item.get("deposed")
            if deposed is not None and not isinstance(deposed, str):
                raise InputError(f"{where}.deposed is not a string")
            # Terraform's two modes: a resource it manages, or a data source it only reads.
            mode = item.get("mode", "managed")
            if mode not in ("managed", "data"):
                raise InputError(f'{where}.mode is {mode!r}, neither "managed" nor "data"')
            first = seen.setdefault((item["address"], deposed), i)
            if first != i:
                raise InputError(
                    f"{where} lists {item['address']}{f' (deposed {deposed})' if deposed else ''} "
                    f"again, after {key}[{first}]; Terraform lists each object once, so which "
                    "change is meant cannot be told"
                )
            change = item.get("change")
            if not isinstance(change, dict):
                raise InputError(f"{where}.change is not an object")
            actions = change.get("actions")
            if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
                raise InputError(f"{where}.change.actions is not a list of strings")
            if (
                mode == "data"
                and key == "resource_changes"
                and actions not in (["read"], ["no-op"])
            ):
                raise InputError(
                    f"{where} is a data source planned to {'+'.join(actions) or 'nothing'}; "
                    "Terraform only reads a data source"
                )
            if mode == "managed" and key == "resource_changes":
                _check_guarded(item, f"{where}.change")
    _check_prior_state(data, damaged)
    _check_configuration(data, damaged)
    _check_outputs(data, damaged)


# What the readers below walk in the prior state's data sources (the
# organization as the plan read it): each field a list of these when there.
# The provider's schema declares them lists (of ids, or of objects).
_PRIOR_LISTS: dict[str, dict[str, type]] = {
    POLICIES_FOR_TARGET_DATA: {"ids": str},
    FIRST_TIER_DATA: {"children": dict},
    DESCENDANT_ACCOUNTS_DATA: {"accounts": dict},
    ORGANIZATION_DATA: {"accounts": dict, "roots": dict},
}
# The lists the review reads in this project's outputs (envs/_shared/outputs.tf).
_OUTPUT_LISTS = {"scp_layout": ("descended",)}


def _list_of(value: Any, kind: type, where: str) -> None:
    """``value`` is absent (None) or a list of ``kind``; the plan is damaged otherwise."""
    if value is None:
        return
    if not isinstance(value, list):
        raise InputError(f"{where} is {_describe(value)}, not a list")
    for i, item in enumerate(value):
        if not isinstance(item, kind):
            name = "an object" if kind is dict else "a string"
            raise InputError(f"{where}[{i}] is {_describe(item)}, not {name}")


def _object_or_none(value: Any, where: str) -> None:
    if value is not None and not isinstance(value, dict):
        raise InputError(f"{where} is {_describe(value)}, not an object")


def _modules(
    root: Any, where: str, damaged: str, below: Callable[[dict[str, Any], str], Iterable[Any]]
) -> Iterator[tuple[dict[str, Any], str]]:
    """Each module of a module tree with where it is, checked: an object, its resources a list
    of objects. ``below(module, where)`` checks and gives the (module, where) pairs under one."""
    stack: list[tuple[Any, str]] = [(root, where)]
    while stack:
        module, at = stack.pop()
        _object_or_none(module, f"{damaged}: {at}")
        if module is None:
            continue
        _list_of(module.get("resources"), dict, f"{damaged}: {at}.resources")
        yield module, at
        stack.extend(below(module, at))


def _check_prior_state(data: Mapping[str, Any], damaged: str) -> None:
    """The module tree of ``prior_state`` (Terraform's "values representation")."""

    def below(module: dict[str, Any], at: str) -> Iterable[tuple[Any, str]]:
        children = module.get("child_modules")
        _list_of(children, dict, f"{damaged}: {at}.child_modules")
        return ((c, f"{at}.child_modules[{i}]") for i, c in enumerate(children or []))

    values = field(data.get("prior_state"), "values")
    _object_or_none(values, f"{damaged}: prior_state.values")
    root = field(values, "root_module")
    for module, where in _modules(root, "prior_state.values.root_module", damaged, below):
        for i, res in enumerate(module.get("resources") or []):
            at = f"{damaged}: {where}.resources[{i}]"
            _object_or_none(res.get("values"), f"{at}.values")
            for name, kind in _PRIOR_LISTS.get(str(res.get("type")), {}).items():
                _list_of(field(res.get("values"), name), kind, f"{at}.values.{name}")


def _check_configuration(data: Mapping[str, Any], damaged: str) -> None:
    """The module tree of ``configuration``: resources, their references, module calls."""

    def below(module: dict[str, Any], at: str) -> Iterable[tuple[Any, str]]:
        calls = module.get("module_calls")
        _object_or_none(calls, f"{damaged}: {at}.module_calls")
        for name, call in (calls or {}).items():
            _object_or_none(call, f"{damaged}: {at}.module_calls.{name}")
            yield field(call, "module"), f"{at}.module_calls.{name}.module"

    root = field(data.get("configuration"), "root_module")
    for module, where in _modules(root, "configuration.root_module", damaged, below):
        for i, res in enumerate(module.get("resources") or []):
            at = f"{damaged}: {where}.resources[{i}].expressions"
            expressions = res.get("expressions")
            _object_or_none(expressions, at)
            for name, expression in (expressions or {}).items():
                if isinstance(expression, dict):
                    _list_of(expression.get("references"), str, f"{at}.{name}.references")


def _check_outputs(data: Mapping[str, Any], damaged: str) -> None:
    """The lists the review reads in this project's outputs, before and after."""
    changes = data.get("output_changes") or {}
    for output, names in _OUTPUT_LISTS.items():
        change = changes.get(output)
        _object_or_none(change, f"{damaged}: output_changes.{output}")
        for side in ("before", "after"):
            value = field(change, side)
            if not isinstance(value, dict):
                continue  # unknown, absent or not an object: the review reads no list
            for name in names:
                where = f"{damaged}: output_changes.{output}.{side}.{name}"
                _list_of(value.get(name), str, where)


# The attributes of the guarded resources the review reads, each a string
# wherever Terraform knows it: the provider's schema declares them strings
# (required, except the policy's type, which defaults to SERVICE_CONTROL_POLICY).
_STRING_ATTRIBUTES = {
    POLICY_TYPE: ("content",),
    ATTACHMENT_TYPE: ("policy_id", "target_id"),
    CONTROL_TYPE: ("target_identifier",),
}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = json.dumps(value)
    return f"{type(value).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"


def _check_guarded(item: Mapping[str, Any], where: str) -> None:
    """The types of what the review reads of a policy, an attachment or a control.

    A value of another type than the provider's schema gives is no plan
    Terraform wrote; a reader that skipped it would judge the resource as if
    the value were not there.
    """
    strings = _STRING_ATTRIBUTES.get(item["type"])
    if strings is None:
        return
    change = item["change"]
    for side in ("before", "after"):
        value = change.get(side)
        _object_or_none(value, f"{where}.{side}")
        if value is None:
            continue
        unknown = change.get("after_unknown") if side == "after" else None
        for name in strings:
            if is_unknown(unknown, name):
                continue
            found = value.get(name)
            if not isinstance(found, str):
                raise InputError(
                    f"{where}.{side}.{name} is {_describe(found)}; the provider writes a string"
                )
        # A policy's type: the provider writes its default, SERVICE_CONTROL_POLICY,
        # when none is set (a hand-made plan may leave the key out: the same).
        if item["type"] == POLICY_TYPE and not is_unknown(unknown, "type"):
            kind = value.get("type", "SERVICE_CONTROL_POLICY")
            if not isinstance(kind, str) or not kind:
                raise InputError(
                    f"{where}.{side}.type is {_describe(kind)}; the provider writes a policy type"
                )
        if item["type"] == CONTROL_TYPE:
            _check_parameters(value.get("parameters"), field(unknown, "parameters"), where, side)


def _check_parameters(value: Any, unknown: Any, where: str, side: str) -> None:
    """A control's parameters: a list of {key, value} objects, each part a string when known."""
    if unknown is True or value is None:
        return
    if not isinstance(value, list):
        raise InputError(f"{where}.{side}.parameters is {_describe(value)}, not a list")
    for i, block in enumerate(value):
        if not isinstance(block, dict):
            raise InputError(
                f"{where}.{side}.parameters[{i}] is {_describe(block)}, not a key and a value"
            )
        marks = unknown[i] if isinstance(unknown, list) and i < len(unknown) else None
        for name in ("key", "value"):
            if is_unknown(marks, name):
                continue
            if not isinstance(block.get(name), str):
                raise InputError(
                    f"{where}.{side}.parameters[{i}].{name} is {_describe(block.get(name))}; "
                    "the provider writes a string"
                )


# ------------------------------------------------------------------ values


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` when ``obj`` is an object, else None."""
    return obj.get(name) if isinstance(obj, dict) else None


def contains_true(value: Any) -> bool:
    """True when ``value`` is True or holds True anywhere (an unknown marker)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if item is True:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def is_unknown(after_unknown: Any, attribute: str) -> bool:
    """True when ``attribute`` (or anything inside it) is unknown until apply."""
    if after_unknown is True:
        return True
    if not isinstance(after_unknown, dict):
        return False
    return contains_true(after_unknown.get(attribute))


def _action_of(actions: Sequence[str]) -> str:
    key = tuple(actions)
    if key in (("delete", "create"), ("create", "delete")):
        return "replace"
    if len(key) == 1 and key[0] in ("create", "update", "delete", "forget", "read", "no-op"):
        return key[0]
    return "+".join(key) or "unknown"


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
    # The deposed object's key: an old object a create_before_destroy replace
    # left behind (always deleted); None for the instance itself.
    deposed: str | None = None

    @property
    def removes(self) -> bool:
        """True when the existing object goes away or leaves Terraform's management."""
        return self.action in ("delete", "replace", "forget")

    @property
    def removes_for_good(self) -> bool:
        """True when nothing of this resource is managed after apply."""
        return self.action in ("delete", "forget")

    @property
    def unchanged(self) -> bool:
        return self.action in ("no-op", "read")


class Plan:
    """A checked plan JSON and the walks every reader of it needs."""

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data = data
        self.source = source

    @property
    def format_version(self) -> str:
        return str(self.data.get("format_version"))

    @property
    def terraform_version(self) -> str | None:
        version = self.data.get("terraform_version")
        return version if isinstance(version, str) else None

    @property
    def errored(self) -> bool:
        return self.data.get("errored") is True

    def variable(self, name: str) -> Any:
        """The value of an input variable the plan was made with, or None."""
        return field(field(self.data.get("variables"), name), "value")

    def output_map(self, name: str, side: str) -> dict[str, str] | None:
        """A map output (OU id -> name) before or after, or None when unknown or absent."""
        change = field(self.data.get("output_changes"), name)
        if not isinstance(change, dict):
            return None
        if side == "after" and contains_true(change.get("after_unknown")):
            return None
        value = change.get(side)
        if not isinstance(value, dict):
            return None
        return {str(k): str(v) for k, v in value.items()}

    def output_value(self, name: str, side: str) -> Any:
        """An output's value before or after, or None when unknown or absent."""
        change = field(self.data.get("output_changes"), name)
        if not isinstance(change, dict):
            return None
        if side == "after" and contains_true(change.get("after_unknown")):
            return None
        return change.get(side)

    def not_covered_reasons(self, side: str) -> dict[str, str]:
        """OU id -> why it is left out, from the ``not_covered_first_tier_ous`` output."""
        change = field(self.data.get("output_changes"), "not_covered_first_tier_ous")
        if not isinstance(change, dict) or (
            side == "after" and contains_true(change.get("after_unknown"))
        ):
            return {}
        value = change.get(side)
        if not isinstance(value, dict):
            return {}
        return {
            str(k): str(v["reason"])
            for k, v in value.items()
            if isinstance(v, dict) and isinstance(v.get("reason"), str)
        }

    @functools.cached_property
    def changes(self) -> tuple[PlanChange, ...]:
        """The managed resource instances of resource_changes."""
        out: list[PlanChange] = []
        for rc in self.data.get("resource_changes") or []:
            if rc.get("mode", "managed") != "managed":
                continue
            change = rc["change"]
            actions = tuple(change["actions"])
            index = rc.get("index")
            out.append(
                PlanChange(
                    address=rc["address"],
                    resource_type=rc["type"],
                    module_address=str(rc.get("module_address") or ""),
                    key=None if index is None else str(index),
                    action=_action_of(actions),
                    actions=actions,
                    before=change.get("before"),
                    after=change.get("after"),
                    after_unknown=change.get("after_unknown"),
                    action_reason=rc.get("action_reason"),
                    importing=isinstance(change.get("importing"), dict),
                    deposed=rc.get("deposed"),
                )
            )
        return tuple(out)

    def of_type(self, resource_type: str) -> list[PlanChange]:
        return [c for c in self.changes if c.resource_type == resource_type]

    def prior_resources(self) -> Iterator[dict[str, Any]]:
        """Resources and data sources of the prior state (data sources as the plan read them)."""
        values = field(self.data.get("prior_state"), "values")
        stack = [field(values, "root_module")]
        while stack:
            module = stack.pop()
            if not isinstance(module, dict):
                continue
            for res in module.get("resources") or []:
                if isinstance(res, dict):
                    yield res
            stack.extend(module.get("child_modules") or [])

    def names_read(self, data_type: str, list_field: str) -> dict[str, str]:
        """Id -> name of the items in ``list_field`` of the ``data_type`` data sources read."""
        names: dict[str, str] = {}
        for res in self.prior_resources():
            if res.get("type") == data_type:
                for item in field(res.get("values"), list_field) or []:
                    if isinstance(item, dict) and item.get("id") and item.get("name"):
                        names[str(item["id"])] = str(item["name"])
        return names

    @functools.cached_property
    def ou_names(self) -> dict[str, str]:
        """OU id -> name from the organization data the plan read and its target outputs."""
        names = self.names_read(FIRST_TIER_DATA, "children")
        for output in ("targets", "untargeted_first_tier_ous"):
            for side in ("before", "after"):
                names.update(self.output_map(output, side) or {})
        return names

    @functools.cached_property
    def org_id(self) -> str | None:
        """The organization id the plan read (data.aws_organizations_organization)."""
        for res in self.prior_resources():
            if res.get("type") == ORGANIZATION_DATA:
                value = field(res.get("values"), "id")
                if isinstance(value, str) and value:
                    return value
        return None

    def attached_scp_ids(self, target_id: str) -> tuple[str, ...] | None:
        """Ids of the SCPs directly attached to a target, as the plan read them (None: not read)."""
        for res in self.prior_resources():
            if res.get("type") == POLICIES_FOR_TARGET_DATA:
                values = res.get("values")
                if field(values, "target_id") == target_id:
                    return tuple(str(i) for i in field(values, "ids") or [])
        return None

    @functools.cached_property
    def root_id(self) -> str | None:
        """The id of the organization's root the plan read."""
        for res in self.prior_resources():
            if res.get("type") == ORGANIZATION_DATA:
                roots = field(res.get("values"), "roots") or []
                if roots and isinstance(roots[0], dict) and isinstance(roots[0].get("id"), str):
                    return str(roots[0]["id"])
        return None

    @functools.cached_property
    def account_placement(self) -> dict[str, tuple[str, ...]]:
        """Account id -> OU ids from the first tier down, as the plan read AWS Organizations.

        Read from the placement data sources of the per_ou layout
        (envs/_shared/main.tf): the accounts under each target, and under each
        child OU of a descended target. Empty under the single layout, which
        reads no placement.
        """
        first: dict[str, str] = {}
        second: dict[str, str] = {}
        parents: dict[str, str] = {}
        for res in self.prior_resources():
            if res.get("type") == FIRST_TIER_DATA and res.get("name") == "descend":
                values = res.get("values")
                parent = field(values, "parent_id")
                for child in field(values, "children") or []:
                    if isinstance(child, dict) and child.get("id") and isinstance(parent, str):
                        parents[str(child["id"])] = parent
        for res in self.prior_resources():
            if res.get("type") != DESCENDANT_ACCOUNTS_DATA:
                continue
            values = res.get("values")
            parent = field(values, "parent_id")
            if not isinstance(parent, str):
                continue
            into = first if res.get("name") == "target" else second
            for acct in field(values, "accounts") or []:
                if isinstance(acct, dict) and acct.get("id"):
                    into[str(acct["id"])] = parent
        out: dict[str, tuple[str, ...]] = {a: (ou,) for a, ou in first.items()}
        for account, child in second.items():
            top = parents.get(child) or first.get(account)
            out[account] = (top, child) if top else (child,)
        return out

    @functools.cached_property
    def account_names(self) -> dict[str, str]:
        return self.names_read(ORGANIZATION_DATA, "accounts")

    def first_tier_ous(self) -> dict[str, str] | None:
        """OU id -> name of the first-tier OUs the plan read, or None when it read none."""
        for res in self.prior_resources():
            if res.get("type") == FIRST_TIER_DATA and res.get("name") == "first_tier":
                children = field(res.get("values"), "children") or []
                return {
                    str(c["id"]): str(c.get("name", ""))
                    for c in children
                    if isinstance(c, dict) and c.get("id")
                }
        return None

    def _module_calls(self, module_address: str) -> list[Any] | None:
        """The configuration's call of each module on the way to ``module_address``.

        None where the address is not one of module calls, each with its
        instance key, which may hold dots (``module.x["a.b"]``).
        """
        calls = _MODULE_CALL.findall(module_address)
        if "".join(f"module.{name}{key}." for name, key in calls) != module_address + ".":
            return None
        module = field(self.data.get("configuration"), "root_module")
        out = []
        for name, _key in calls:
            call = field(field(module, "module_calls"), name)
            out.append(call)
            module = field(call, "module")
        return out

    def _config_module(self, module_address: str) -> Any:
        if not module_address:
            return field(self.data.get("configuration"), "root_module")
        calls = self._module_calls(module_address)
        return field(calls[-1], "module") if calls else None

    def policy_of_attachment(
        self, att: PlanChange, policies: Mapping[str, PlanChange]
    ) -> str | None:
        """Address of the policy an attachment attaches, or None when it cannot be told."""
        policy_id = field(att.after, "policy_id")
        if isinstance(policy_id, str) and not is_unknown(att.after_unknown, "policy_id"):
            # Two addresses holding one SCP (one imported while the state has it):
            # which content AWS keeps depends on the order of their updates.
            return only_policy_with_id(policies, policy_id)
        # The policy resources the configuration's expression names: more
        # than one (a conditional, say) cannot be told apart before apply.
        referenced = self._referenced_policies(att)
        if len(referenced) > 1:
            return None
        if not referenced and self._config_references(att, "policy_id"):
            # The expression goes through a local, a variable or a module's
            # output: nothing in the plan says which SCP it names.
            return None
        target = field(att.after, "target_id")
        named = field(self.output_value(ATTACHMENT_POLICIES_OUTPUT, "after"), target)
        if isinstance(named, dict) and isinstance(named.get("key"), str):
            prefix = _prefix(att)
            resource = str(named.get("resource"))
            base = f"{prefix}{POLICY_TYPE}.{resource}"
            # The output is believed only where the expression agrees with it.
            if referenced and referenced != [base]:
                return None
            address = f'{base}["{named["key"]}"]'
            return address if address in policies else None
        if referenced:
            [base] = referenced
            if base in policies:
                return base
            # A policy with for_each: only an only instance is certain.
            keyed = [a for a in policies if a.startswith(base + "[")]
            return keyed[0] if len(keyed) == 1 else None
        return None

    def module_depends_on(self, module_address: str) -> tuple[str, ...]:
        """The modules a module call's ``depends_on`` names, as module addresses (``module.x``).

        Every resource of the module is then created, updated and destroyed
        in order with every resource of those modules (Terraform language
        docs, "The depends_on Meta-Argument"). For a nested module, a
        depends_on of any call on the way counts. Empty: none, or the
        configuration does not say.
        """
        out: list[str] = []
        for call in self._module_calls(module_address) or []:
            names = field(call, "depends_on")
            out += [
                str(n).split("[", 1)[0]
                for n in (names if isinstance(names, list) else [])
                if str(n).startswith("module.")
            ]
        return tuple(dict.fromkeys(out))

    @staticmethod
    def module_path(module_address: str) -> str:
        """A module address without its instance keys (``module.x["a"]`` -> ``module.x``)."""
        return ".".join(f"module.{name}" for name, _key in _MODULE_CALL.findall(module_address))

    @staticmethod
    def resource_of(change: PlanChange) -> str:
        """The plan address of ``change``'s resource: its instance's without the key."""
        prefix = _prefix(change)
        return prefix + change.address[len(prefix) :].split("[", 1)[0]

    def _config_resource(self, change: PlanChange) -> tuple[str, Any]:
        """The module prefix of ``change`` and its resource's configuration (None: not there)."""
        module = self._config_module(change.module_address)
        prefix = _prefix(change)
        local = self.resource_of(change)[len(prefix) :]
        for res in field(module, "resources") or []:
            if field(res, "address") == local:
                return prefix, res
        return prefix, None

    def depends_on(self, change: PlanChange) -> tuple[str, ...]:
        """The resources the configuration of ``change``'s resource lists in ``depends_on``.

        Each is named as a plan address without an instance key, in the same
        module (``module.x.aws_organizations_policy_attachment.second_tier``),
        or a module called from it (``module.x.module.y``). Terraform creates
        and updates every instance of a resource after each instance of those
        it depends on (Terraform language docs, "The depends_on
        Meta-Argument"). The order that references alone make is not read.
        """
        prefix, res = self._config_resource(change)
        names = field(res, "depends_on")
        out = [
            prefix + name.split("[", 1)[0]
            for name in (names if isinstance(names, list) else [])
            if isinstance(name, str)
        ]
        return tuple(dict.fromkeys(out))

    def _config_references(self, change: PlanChange, attribute: str | None = None) -> list[str]:
        """Every reference the expressions of ``change``'s configuration make (or one's)."""
        _prefix, res = self._config_resource(change)
        expressions = field(res, "expressions")
        if not isinstance(expressions, dict):
            return []
        chosen = [expressions.get(attribute)] if attribute else list(expressions.values())
        out: list[str] = []
        for expression in chosen:
            refs = field(expression, "references")
            out += [str(r) for r in (refs if isinstance(refs, list) else [])]
        return out

    def references(self, change: PlanChange, attribute: str | None = None) -> tuple[str, ...]:
        """The resources the expressions of ``change``'s configuration name (or ``attribute``'s).

        Each is a plan address in the same module, without an instance key or
        an attribute (``module.x.aws_organizations_policy.per_ou``); names of
        variables, locals and modules are left out.
        """
        prefix = _prefix(change)
        out: list[str] = []
        for ref in self._config_references(change, attribute):
            match = re.fullmatch(r"([a-z][a-z0-9_]*\.[A-Za-z0-9_-]+)(\[[^]]*\])?(\..*)?", ref)
            if match and match.group(1).split(".")[0] not in _NOT_RESOURCES:
                out.append(prefix + match.group(1))
        return tuple(dict.fromkeys(out))

    def _referenced_policies(self, att: PlanChange) -> list[str]:
        """The policy resources an attachment's policy_id names (module-prefixed, no key)."""
        return [r for r in self.references(att, "policy_id") if r.rsplit(".", 2)[-2] == POLICY_TYPE]


def _prefix(change: PlanChange) -> str:
    """What comes before a resource's own address in ``change``'s: its module's, and a dot."""
    return f"{change.module_address}." if change.module_address else ""


# One module call of a module address: its name and its instance key, if any.
_MODULE_CALL = re.compile(r'module\.([A-Za-z0-9_-]+)((?:\[(?:"(?:[^"\\]|\\.)*"|[0-9]+)\])?)')
# Names an expression's references start with that are no managed resource.
_NOT_RESOURCES = frozenset(
    ("var", "local", "module", "data", "each", "count", "self", "path", "terraform")
)


def only_policy_with_id(
    policies: Mapping[str, PlanChange], policy_id: Any, sides: tuple[str, ...] = ("after", "before")
) -> str | None:
    """The one address whose policy has ``policy_id`` on one of ``sides``; None: none, or two."""
    found = {
        address
        for address, pol in policies.items()
        for side in sides
        if field(pol.after if side == "after" else pol.before, "id") == policy_id
    }
    return found.pop() if len(found) == 1 else None


def ou_id_of_arn(arn: Any) -> str | None:
    """The OU (or root) id at the end of an OU ARN, or None."""
    if not isinstance(arn, str):
        return None
    tail = arn.rsplit("/", 1)[-1]
    return tail if tail.startswith("ou-") or tail.startswith("r-") else None


def iter_strings(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(v if isinstance(v, str) else json.dumps(v) for v in values)
