"""CKV_RG_10: every exempted action is guarded by an SCP attached to the same OUs.

An action in the control's ExemptedActions escapes the Region deny for every
account of the OU. Only a guard statement (see CKV_RG_4) of an SCP attached to
that OU keeps it inside the allowed Regions for the accounts not permitted.

A Python graph check: it reads the controls, the SCPs and their attachments
from checkov's graph, in HCL mode and in plan mode alike. Targets are matched
by OU id. When checkov leaves both target sets as Terraform text (the
environments discover the OUs with a data source), they match only when both
come from the same expression: the SCP module's ``toset(keys(S))`` and the
control module's ``{for id, ou in S : id => ou.arn}`` over the same ``S``, as
envs/_shared wires them. Anything else that cannot be resolved fails closed.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from _rg_common import (
    PlanTimeOnly,
    Unresolved,
    control_parameters,
    covers,
    denied_actions,
    guard_problems,
    is_scp,
    looks_unresolved,
    module_prefix,
    ou_id,
    policy_document,
    statement_name,
    unresolved_result,
    unwrap,
)

from checkov.common.checks_infra.registry import get_graph_checks_registry
from checkov.common.graph.checks_infra.base_check import BaseGraphCheck
from checkov.common.models.enums import CheckResult
from checkov.runner_filter import RunnerFilter
from regionguard import catalogue

RULE = catalogue.CKV_RG_10
CHECK_ID = RULE.id
KEYS_OF = re.compile(r"^\$\{toset\(keys\((?P<source>.*)\)\)\}$", re.S)
ARNS_OF = re.compile(r"^\$\{\{for (\w+) , (\w+) in (?P<source>.*) : \1 :> \2\.arn\}\}$", re.S)


def resource_conf(vertex: dict[str, Any]) -> dict[str, Any]:
    """The resource's configuration in the shape resource checks see (values wrapped in lists)."""
    config = vertex.get("config_") or {}
    for by_name in config.values():
        if isinstance(by_name, dict):
            for conf in by_name.values():
                if isinstance(conf, dict):
                    return {**conf, "__address__": vertex.get("__address__", "")}
    return {}


def target_keys(conf: dict[str, Any], attribute: str, pattern: re.Pattern[str]) -> set[str]:
    """OU ids of a resource's target, or {"expr:<S>"} when it is the unresolved target source S."""
    target = unwrap(conf.get(attribute))
    if isinstance(target, str) and target and not looks_unresolved(target):
        return {ou_id(target)}
    for_each = unwrap(conf.get("for_each"))
    if isinstance(for_each, str):
        match = pattern.match(for_each.strip())
        if match:
            return {"expr:" + re.sub(r"\s+", " ", match.group("source"))}
    raise Unresolved(f"the target of {conf.get('__address__')} could not be resolved")


def policy_addresses(attachment: dict[str, Any]) -> list[str]:
    """The policies an attachment may attach: one, or each branch of a try() or conditional.

    A reference with a dynamic index (``aws_organizations_policy.per_ou[each.value]``,
    which a plan shows as the bare ``aws_organizations_policy.per_ou``) stands
    for the instance of the attachment's own key.
    """
    policy_id = unwrap(attachment.get("policy_id"))
    if not isinstance(policy_id, str):
        raise Unresolved(f"the policy of {attachment.get('__address__')} could not be resolved")
    address = str(attachment.get("__address__", ""))
    own_key = re.search(r"(\[[^\]]*\])$", address)
    refs = re.findall(
        r"(aws_organizations_policy\.[A-Za-z0-9_-]+)(\[[^\]]*\])?(?:\.id)?\b", policy_id
    )
    if not refs:
        return ["id:" + policy_id]
    prefix = module_prefix(address)
    out: list[str] = []
    for base, index in refs:
        out.append(prefix + base)
        if index and not re.fullmatch(r"\[(each\.(key|value))\]", index):
            out.append(prefix + base + index)
        elif own_key:
            out.append(prefix + base + own_key.group(1))
    if len(refs) == 1 and own_key and refs[0][1] == "":
        out.append(prefix + refs[0][0] + own_key.group(1))
    # modules/bedrock-inference-scp attaches the SCPs of each layout with a
    # resource of its own, for_each over the targets under that layout and
    # over nothing under the other: `this` the single SCP, `per_ou` each
    # target's own. In HCL mode the layout is not known (checkov evaluates the
    # condition one way or the other), so an attachment of either stands for
    # both layouts' SCPs, as branches (docs/policy-as-code.md).
    if re.search(r"aws_organizations_policy_attachment\.(this|per_ou)(\[[^\]]*\])?$", address):
        single = prefix + "aws_organizations_policy.this"
        per_ou = prefix + "aws_organizations_policy.per_ou"
        out += [single, single + '["single"]', per_ou + (own_key.group(1) if own_key else "")]
    return list(dict.fromkeys(out))


def guarded_actions(policy: dict[str, Any], exempted: list[str]) -> set[str]:
    document = policy_document(policy)
    guarded: set[str] = set()
    for index, statement in enumerate(document["Statement"]):
        if statement.get("Effect") != "Deny":
            continue
        name = statement_name(statement, index)
        actions = denied_actions(statement, exempted, name)
        if actions and not guard_problems(statement, name):
            guarded.update(actions)
    return guarded


def scope(vertex: dict[str, Any]) -> str:
    """The plan file a vertex comes from, or "" for Terraform source."""
    path = str(vertex.get("file_path_") or vertex.get("__file__") or "")
    return path if path.endswith(".json") and not path.endswith(".tf.json") else ""


def vertices(graph: Any) -> list[dict[str, Any]]:
    from _rg_common import iter_vertices

    return [v for v in iter_vertices(graph) if v.get("block_type_") == "resource"]


class ExemptionsGuarded(BaseGraphCheck):
    def __init__(self) -> None:
        super().__init__()
        self.id = CHECK_ID
        self.name = RULE.title
        self.category = "IAM"
        self.resource_types = ["aws_controltower_control"]
        self.guideline = "docs/policy-as-code.md"

    def run(
        self, graph_connector: Any
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        passed: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        unknown: list[dict[str, Any]] = []
        resources = vertices(graph_connector)
        # Each plan file is a world of its own; HCL resources of one scan share one.
        by_address = {(scope(v), str(v.get("__address__"))): v for v in resources}
        policies_by_id = {
            (scope(v), str(v.get("id"))): v
            for v in resources
            if v.get("resource_type") == "aws_organizations_policy" and v.get("id")
        }
        attachments = [
            v for v in resources if v.get("resource_type") == "aws_organizations_policy_attachment"
        ]
        for control in (
            v for v in resources if v.get("resource_type") == "aws_controltower_control"
        ):
            address = str(control.get("__address__"))
            try:
                problems = self.problems(
                    control, attachments, by_address, policies_by_id, graph_connector
                )
            except Unresolved as exc:
                self.report(address, f"cannot check: {exc} (fail closed)")
                (failed if unresolved_result() == CheckResult.FAILED else unknown).append(control)
                continue
            except Exception as exc:  # a check that breaks must not pass silently
                self.report(address, f"cannot check: {type(exc).__name__}: {exc} (fail closed)")
                failed.append(control)
                continue
            for problem in problems:
                self.report(address, problem)
            (failed if problems else passed).append(control)
        return passed, failed, unknown

    @staticmethod
    def report(address: str, message: str) -> None:
        print(f"{CHECK_ID} {address}: {message}", file=sys.stderr)

    def problems(
        self,
        control: dict[str, Any],
        attachments: list[dict[str, Any]],
        by_address: dict[str, dict[str, Any]],
        policies_by_id: dict[str, dict[str, Any]],
        graph: Any,
    ) -> list[str]:
        world = scope(control)
        conf = resource_conf(control)
        exempted = control_parameters(conf, graph).get("ExemptedActions", [])
        if not exempted:
            return []
        targets = target_keys(conf, "target_identifier", ARNS_OF)
        problems = []
        for target in sorted(targets):
            guarded: set[str] = set()
            for vertex in attachments:
                if scope(vertex) != world:
                    continue
                attachment = resource_conf(vertex)
                try:
                    attached_to = target_keys(attachment, "target_id", KEYS_OF)
                except Unresolved:
                    continue
                if target not in attached_to:
                    continue
                # A conditional attaches one of its branches: each that can be read
                # must guard; a per-OU branch is checked at plan time (PlanTimeOnly).
                branches: list[set[str]] = []
                candidates = policy_addresses(attachment)
                found = [
                    v
                    for v in (
                        policies_by_id.get((world, where[3:]))
                        if where.startswith("id:")
                        else by_address.get((world, where))
                        for where in candidates
                    )
                    if v is not None
                ]
                if not found:
                    raise Unresolved(
                        f"the SCP {' or '.join(candidates)} attached to {target} is not in the scan"
                    )
                for policy_vertex in found:
                    policy = resource_conf(policy_vertex)
                    if not is_scp(policy):
                        continue
                    try:
                        branches.append(guarded_actions(policy, exempted))
                    except PlanTimeOnly:
                        continue
                if branches:
                    guarded |= set.intersection(*branches)
            shown = target[5:] if target.startswith("expr:") else target
            if target.startswith("expr:"):
                shown = "the OUs the environment discovers"
            for action in exempted:
                if action not in guarded and not covers([a for a in guarded], action):
                    problems.append(
                        f"{action} is exempted from the Region deny on {shown} but no SCP attached "
                        "there denies it outside the allowed Regions: it is open to every account "
                        "in every Region"
                    )
        return problems


def register() -> None:
    registry = get_graph_checks_registry("terraform")
    if not any(c.id == CHECK_ID for c in registry.checks):
        RunnerFilter.notify_external_check(CHECK_ID)
        registry.checks.append(ExemptionsGuarded())


register()
