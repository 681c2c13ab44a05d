"""Shared reading of SCPs and Region deny controls for the regionguard checkov checks.

checkov hands a check the same resource in two shapes:

* HCL mode (``-d``): attribute values wrapped in one-element lists, ``jsonencode()``
  evaluated into dicts and lists, but only as far as checkov's renderer gets. A
  one-element list may arrive as its element (``"123456789012"`` or the number
  ``123456789012``), a list built by ``concat()`` may arrive as the text
  ``concat([...],[])``, and anything checkov cannot evaluate stays Terraform text
  (``var.x``, ``each.value``, ``${...}``).
* plan mode (``-f tfplan.json``): the SCP ``content`` and each control parameter
  ``value`` are the JSON strings Terraform will send.

Every reader here returns either a fully resolved value or ``None``. A check
that gets ``None`` where security depends on the value fails closed (see
``Unresolved``), unless REGIONGUARD_CHECKOV_UNRESOLVED=unknown asks for
checkov's UNKNOWN instead.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from checkov.terraform.graph_builder.variable_rendering.evaluate_terraform import (
    evaluate_terraform,
)

# The package's pure modules (installed into checkov's environment without
# dependencies): the rules are the ones validate and the plan gate apply, each
# check's id and name are the catalogue's.
from regionguard import rules
from regionguard.catalogue import Rule
from regionguard.planfile import load_plan
from regionguard.render import jsonencode
from regionguard.settings import size_limit_of
from regionguard.strictjson import KeyGivenTwice, unique_keys

# The actions Bedrock cross-Region inference needs; the only ones the Region
# deny control may exempt. Converse/ConverseStream are authorised as the two
# Invoke actions; batch inference uses inference profiles too.
APPROVED_EXEMPTED_ACTIONS: tuple[str, ...] = (
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
    "bedrock:CreateModelInvocationJob",
)

# Identifiers accepted for CT.MULTISERVICE.PV.1. The default of
# modules/region-deny-control is listed here (a test keeps the two in step);
# an organisation that looked up another id adds it through
# REGIONGUARD_CONTROL_IDENTIFIERS (comma-separated).
REGION_DENY_CONTROL_IDENTIFIERS: tuple[str, ...] = (
    "arn:aws:controlcatalog:::control/50utmyu7yqmhr8fpnpo8bnaj1",
)

REGION_RE = rules.REGION_CODE_PATTERN
ACCOUNT_ID_RE = rules.ACCOUNT_ID_PATTERN
ACCOUNT_KEY = rules.ACCOUNT_KEY
UNRESOLVED_MARKERS = ("var.", "local.", "module.", "each.", "data.", "${", "parameters.")


def control_identifiers() -> tuple[str, ...]:
    extra = os.environ.get("REGIONGUARD_CONTROL_IDENTIFIERS", "")
    return REGION_DENY_CONTROL_IDENTIFIERS + tuple(i.strip() for i in extra.split(",") if i.strip())


def unresolved_result() -> CheckResult:
    """What a check reports when it cannot resolve a value: FAILED unless told otherwise."""
    if os.environ.get("REGIONGUARD_CHECKOV_UNRESOLVED", "fail").strip().lower() == "unknown":
        return CheckResult.UNKNOWN
    return CheckResult.FAILED


class Unresolved(Exception):
    """A value the check needs is still Terraform text after checkov's rendering."""


class PlanTimeOnly(Exception):
    """An SCP whose content only a plan knows: the per-OU SCPs of modules/bedrock-inference-scp.

    Their account lists come from AWS Organizations' placement, read by data
    sources at plan time, so no HCL scan can see them. They are checked in
    plan mode (`make check` over tfplan.json) and by the plan gate; an HCL
    scan reports them UNKNOWN, never PASSED. Only the exact resources and
    expression of the module qualify (PLAN_TIME_SCPS).
    """


# (resource address suffix, the content expression) of the per-OU SCPs.
PLAN_TIME_SCPS = (
    ("aws_organizations_policy.per_ou", "local.documents[each.key]"),
    ("aws_organizations_policy.second_tier", "local.documents[each.key]"),
)


def plan_time_only(conf: dict[str, Any]) -> bool:
    """Whether an aws_organizations_policy is one of the module's per-OU SCPs, unrendered."""
    address = re.sub(r"\[[^\]]*\]$", "", str(conf.get("__address__", "")))
    content = unwrap(conf.get("content"))
    text = re.sub(r"^\$\{(.*)\}$", r"\1", content.strip()) if isinstance(content, str) else None
    return any(
        (address == suffix or address.endswith("." + suffix)) and text == expression
        for suffix, expression in PLAN_TIME_SCPS
    )


# ------------------------------------------------------------------ values


def unwrap(value: Any) -> Any:
    """HCL mode wraps each attribute in a one-element list; plan mode sometimes does too."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def looks_unresolved(text: str) -> bool:
    return any(marker in text for marker in UNRESOLVED_MARKERS)


def strings(value: Any, what: str) -> list[str]:
    """A list of strings from a resolved value; a lone string or number is a one-element list."""
    if value is None:
        return []
    if isinstance(value, bool):
        raise Unresolved(f"{what} is the boolean {value}, not a list of strings")
    if isinstance(value, (str, int)):
        text = str(value)
        if looks_unresolved(text):
            raise Unresolved(f"{what} is the unevaluated expression {text!r}")
        return [text]
    if isinstance(value, (list, tuple, set)):
        out: list[str] = []
        for item in value:
            out.extend(strings(item, what))
        return out
    raise Unresolved(f"{what} has the unexpected shape {type(value).__name__}")


def finish(value: Any) -> Any:
    """Finish what checkov's renderer left as text: JSON (plan mode) or a Terraform expression."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text, object_pairs_hook=unique_keys)
        except KeyGivenTwice as exc:
            # Which of the two AWS reads is not documented (regionguard.strictjson).
            raise Unresolved(f"the JSON gives the key {exc.key!r} twice in one object") from None
        except ValueError:
            pass
    if text.startswith(("concat(", "flatten(", "merge(", "jsonencode(", "{", "[")):
        try:
            return evaluate_terraform(text)
        except Exception:  # checkov's evaluator raises anything; the caller sees text
            return value
    return value


# ------------------------------------------------------------------ SCPs


def is_scp(conf: dict[str, Any]) -> bool:
    policy_type = unwrap(conf.get("type"))
    # The provider's default type is SERVICE_CONTROL_POLICY.
    return policy_type is None or policy_type == "SERVICE_CONTROL_POLICY"


def policy_document(conf: dict[str, Any]) -> dict[str, Any]:
    """The SCP document of an aws_organizations_policy, or Unresolved (PlanTimeOnly)."""
    if plan_time_only(conf):
        raise PlanTimeOnly("a per-OU SCP: its accounts are known at plan time only")
    raw = finish(unwrap(conf.get("content")))
    if isinstance(raw, str):
        raise Unresolved("the SCP content is not a policy document checkov could evaluate")
    if not isinstance(raw, dict):
        raise Unresolved(f"the SCP content is a {type(raw).__name__}, not a policy document")
    statements = finish(raw.get("Statement"))
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise Unresolved("the SCP Statement list could not be evaluated")
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            raise Unresolved(f"SCP statement {index} could not be evaluated")
    return {**raw, "Statement": statements}


def statement_name(statement: dict[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {index} ({sid})" if isinstance(sid, str) and sid else f"statement {index}"


def covers(patterns: Iterable[str], action: str) -> bool:
    """Whether one of the IAM action patterns names every action ``action`` names."""
    return any(rules.covers(p, action) for p in patterns)


def plain_statement(statement: dict[str, Any], what: str) -> dict[str, Any]:
    """A statement with every element checkov left unevaluated finished, or Unresolved."""
    plain: dict[str, Any] = {"Effect": statement.get("Effect")}
    for element in ("Action", "NotAction", "Resource"):
        if element in statement:
            plain[element] = strings(finish(statement[element]), f"{what} {element}")
    condition = finish(statement.get("Condition"))
    if isinstance(condition, dict):
        blocks: dict[str, Any] = {}
        for operator, block in condition.items():
            block = finish(block)
            if not isinstance(block, dict):
                raise Unresolved(f"the {operator} block of {what} could not be evaluated")
            blocks[operator] = {
                k: strings(finish(v), f"condition key {k}") for k, v in block.items()
            }
        plain["Condition"] = blocks
    elif condition is not None:
        raise Unresolved(f"the Condition of {what} could not be evaluated")
    return plain


def denied_actions(statement: dict[str, Any], candidates: Iterable[str], what: str) -> list[str]:
    """Which of the candidate actions a statement applies to (Action or NotAction)."""
    return rules.denied_actions(plain_statement(statement, what), candidates)


def condition_values(block: Any, key: str) -> list[str] | None:
    """The values of a condition key (case-insensitive), or None when absent."""
    if not isinstance(block, dict):
        return None
    for name, value in block.items():
        if isinstance(name, str) and name.lower() == key:
            return strings(finish(value), f"condition key {name}")
    return None


def account_ids(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, value) of every account id in condition keys that take account ids."""
    for index, statement in enumerate(document["Statement"]):
        condition = finish(statement.get("Condition"))
        if condition is None:
            continue
        if not isinstance(condition, dict):
            raise Unresolved(
                f"the Condition of {statement_name(statement, index)} could not be evaluated"
            )
        for operator, block in condition.items():
            block = finish(block)
            if not isinstance(block, dict):
                raise Unresolved(
                    f"the {operator} block of {statement_name(statement, index)} "
                    "could not be evaluated"
                )
            for key, value in block.items():
                if key.lower() in (ACCOUNT_KEY, "aws:sourceaccount", "aws:resourceaccount"):
                    for item in strings(finish(value), f"condition key {key}"):
                        yield f"{statement_name(statement, index)} {operator} {key}", item


def minified_length(document: Any, raw: Any) -> int:
    """Length of the document as sent: the plan's JSON string, or jsonencode()'s output rebuilt."""
    if isinstance(raw, str) and raw.strip().startswith("{"):
        return len(raw)
    return len(jsonencode(document))


def guard_problems(statement: dict[str, Any], name: str) -> list[str]:
    """Why a Deny statement covering an inference action is not a guard (empty: it is one)."""
    return rules.guard_problems(plain_statement(statement, name))


# ------------------------------------------------------------------ controls


def iter_vertices(graph: Any) -> Iterator[dict[str, Any]]:
    """Attribute dicts of the vertices of a checkov graph (rustworkx, networkx or igraph)."""
    if graph is None:
        return
    nodes = getattr(graph, "nodes", None)
    if callable(nodes):
        try:
            items = nodes(data=True)
        except TypeError:
            items = nodes()
    else:
        items = []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict):
            yield item[1]
        elif isinstance(item, dict):
            yield item


def module_prefix(address: str) -> str:
    """``module.a["k"].module.b.`` of a resource address (empty at the root)."""
    parts = re.findall(r"module\.[A-Za-z0-9_-]+(?:\[[^\]]*\])?\.", address)
    return "".join(parts)


def module_variable(graph: Any, address: str, name: str) -> Any:
    """The rendered value of variable ``name`` of the module instance holding ``address``."""
    prefix = re.sub(r"\[[^\]]*\]", "", module_prefix(address))
    wanted = f"{prefix}{name}"
    for vertex in iter_vertices(graph):
        if vertex.get("block_type_") != "variable":
            continue
        if vertex.get("__address__") == wanted or (
            not prefix and vertex.get("block_name_") == name
        ):
            return vertex.get("default")
    raise Unresolved(f"no value for the module input {name}")


# The contract of modules/region-deny-control: each parameter comes from the
# module input of the same meaning, and an empty list is left out.
CONTROL_PARAMETER_INPUTS = {
    "AllowedRegions": "allowed_regions",
    "ExemptedActions": "exempted_actions",
    "ExemptedPrincipalArns": "exempted_principal_arns",
}


def control_parameters(conf: dict[str, Any], graph: Any = None) -> dict[str, list[str]]:
    """The control's parameters as {key: [values]}, or Unresolved.

    Plan mode and static ``parameters`` blocks give the values directly. The
    foundation module builds the blocks with ``dynamic "parameters"``, which
    checkov 3 does not render: then the values are read from the inputs of the
    module instance (CONTROL_PARAMETER_INPUTS), as that module sends them.
    """
    blocks = conf.get("parameters")
    if isinstance(blocks, dict):
        blocks = [blocks]
    if not blocks:
        return {}
    params: dict[str, list[str]] = {}
    dynamic = False
    for block in blocks:
        if not isinstance(block, dict):
            raise Unresolved("a parameters block could not be evaluated")
        key = unwrap(block.get("key"))
        value = block.get("value")
        if not isinstance(key, str) or looks_unresolved(key):
            dynamic = True
            break
        value = finish(unwrap(value)) if not (isinstance(value, list) and len(value) > 1) else value
        if isinstance(value, str) and value.startswith("jsonencode(") and value.endswith(")"):
            # checkov renders jsonencode(["x"]) as jsonencode(x): a one-element list.
            inner = value[len("jsonencode(") : -1]
            value = [inner]
        values = strings(value, f"parameter {key}")
        if key in params and params[key] != values:
            # Which of the two Control Tower keeps is not documented (the plan gate's
            # RG-PLAN-UNKNOWN refuses the same).
            raise Unresolved(f"parameter {key} is given twice with different values")
        params[key] = values
    if not dynamic:
        return params
    address = str(conf.get("__address__", ""))
    if graph is None:
        raise Unresolved(
            "the control's parameters are built by a dynamic block checkov could not render"
        )
    params = {}
    for key, name in CONTROL_PARAMETER_INPUTS.items():
        values = strings(module_variable(graph, address, name), f"module input {name}")
        if values:
            params[key] = values
    return params


@functools.lru_cache(maxsize=16)
def plan_size_limit(path: str) -> int:
    """The size limit of a plan: its ``scp_size_limit`` variable, read by the one plan reader."""
    return size_limit_of(load_plan(Path(path)).variable("scp_size_limit"))


def scp_size_limit(conf: dict[str, Any], graph: Any, entity_path: str = "") -> int:
    """The size limit an SCP is held to: the environment's ``scp_size_limit``, as Terraform sets it.

    Plan mode: the plan's ``scp_size_limit`` variable (checkov names the plan
    file in ``__file__``). HCL mode: the ``size_limit`` input of the SCP's
    module instance (modules/bedrock-inference-scp), which checkov renders from
    the environment's ``terraform.tfvars`` through ``envs/_shared/main.tf``; an
    SCP at the root of a folder takes that folder's variable ``scp_size_limit``
    (``entity_path``: checkov's ``file:type:name`` of the resource). Without
    either (a module or a folder scanned alone), the default. Never more than
    AWS's limit (:func:`regionguard.settings.size_limit_of`).
    """
    plan_files = conf.get("__file__")
    if plan_files:
        return plan_size_limit(str(unwrap(plan_files)))
    address = str(conf.get("__address__", ""))
    if module_prefix(address):
        name = "size_limit"
        try:
            value = module_variable(graph, address, name)
        except Unresolved:
            return size_limit_of(None)
    else:
        name = "scp_size_limit"
        scanned = entity_path.split(":", 1)[0]  # the file, relative to the scan's root
        vertices = list(iter_vertices(graph))
        folders = {
            os.path.dirname(str(v.get("file_path_")))
            for v in vertices
            if v.get("block_type_") == "resource"
            and v.get("__address__") == address
            and str(v.get("file_path_") or "").endswith(scanned)
        }
        found = [
            v.get("default")
            for v in vertices
            if v.get("block_type_") == "variable"
            and v.get("block_name_") == name
            and os.path.dirname(str(v.get("file_path_") or "")) in folders
        ]
        if not found:
            return size_limit_of(None)
        value = found[0]
    value = finish(unwrap(value))
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise Unresolved(f"the size limit {name} is {value!r}, not a whole number")
    return size_limit_of(value)


def is_region_deny_control(conf: dict[str, Any]) -> bool:
    """Whether a control is the Region deny: a known identifier or Region deny parameter keys."""
    identifier = unwrap(conf.get("control_identifier"))
    if isinstance(identifier, str) and identifier in control_identifiers():
        return True
    blocks = conf.get("parameters") or []
    if isinstance(blocks, dict):
        blocks = [blocks]
    keys = [unwrap(b.get("key")) for b in blocks if isinstance(b, dict)]
    return any(
        not isinstance(k, str) or looks_unresolved(k) or k in CONTROL_PARAMETER_INPUTS for k in keys
    )


def ou_id(target: str) -> str:
    """The OU id of an OU ARN or id (arn:...:ou/o-xxx/ou-yyy -> ou-yyy)."""
    return target.rsplit("/", 1)[-1]


class RegionguardCheck(BaseResourceCheck):
    """A check that fails closed: an unresolved value or an error inside the check fails it."""

    def __init__(self, rule: Rule, resources: list[str]) -> None:
        super().__init__(
            name=rule.title,
            id=rule.id,
            categories=[CheckCategories.IAM],
            supported_resources=resources,
            guideline="docs/policy-as-code.md",
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        try:
            problems = self.problems(conf)
        except PlanTimeOnly as exc:
            self.details.append(f"not checked here: {exc}; checked in plan mode and by the gate")
            return CheckResult.UNKNOWN
        except Unresolved as exc:
            self.details.append(f"cannot check: {exc} (fail closed; see docs/policy-as-code.md)")
            return unresolved_result()
        except Exception as exc:  # a check that breaks must not pass silently
            self.details.append(f"cannot check: {type(exc).__name__}: {exc} (fail closed)")
            return CheckResult.FAILED
        if problems is None:
            return CheckResult.UNKNOWN
        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        """The problems found (empty: passed), or None when the check does not apply."""
        raise NotImplementedError
