"""`regionguard explain|matrix|verify`: who can call what, where, under the environment's SCPs.

- explain: one request, ALLOW or DENY, the policy and statement that decided.
- matrix: accounts x Regions x actions; with --plan, the cells the plan changes.
- verify: the facts of envs/<env>/expectations.yaml, against the rendered
  policies (or a plan's), and for the local environment against the sandbox;
  with --live, against the organization itself, as apply checks them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from regionguard import local_sandbox
from regionguard.aws import Aws
from regionguard.commands._args import add_env_arguments, environment_from_args, path_argument
from regionguard.environment import Environment
from regionguard.errors import FindingsError, InputError
from regionguard.evaluator import (
    CallDecision,
    CellChange,
    Evaluator,
    LegDecision,
    Matrix,
    PolicyError,
    matrix_delta,
)
from regionguard.expectations import (
    broken_facts,
    staged_from_org,
    staged_text,
    verify_json,
    verify_runs,
    verify_text,
)
from regionguard.orgfacts import OrgFacts
from regionguard.orgmodel import (
    Scenario,
    sandbox_facts,
    scenario_from_env,
    scenario_from_org,
    scenario_from_plan,
)
from regionguard.planfile import load_plan
from regionguard.repo import command
from regionguard.request import (
    PROFILE_ACTIONS,
    CallRequest,
    Profile,
    build_request,
    call_matrix,
    check_profile_action,
    decide,
    destinations,
    direct_matrix,
    load_profile_data,
    matrix_action,
    operation_json,
    parse_profile,
    profile_sources,
    reach_lines,
    resolve_action,
    resolve_region,
    unknown_path_note,
)
from regionguard.words import count


def register(subparsers: Any) -> None:
    explain = subparsers.add_parser(
        "explain",
        help="ALLOW or DENY for one call, and the SCP statement that decided",
        description=(
            "Evaluate one call against the environment's SCPs as AWS Organizations does and "
            "say which policy and statement decided, in words."
        ),
    )
    add_env_arguments(explain)
    _source_arguments(explain)
    explain.add_argument("--account", required=True, help="account id or registry name")
    explain.add_argument(
        "--action",
        required=True,
        help="IAM action or API operation, e.g. bedrock:InvokeModel, bedrock:Converse",
    )
    explain.add_argument(
        "--region",
        required=True,
        help="Region the call is made in (the source Region of a profile call), or unspecified",
    )
    explain.add_argument(
        "--principal-arn",
        help="the caller: role, user or assumed-role session ARN (default: a role of the account)",
    )
    explain.add_argument(
        "--role-path", help="the path of a session's role, e.g. /aws-reserved/sso.amazonaws.com/"
    )
    explain.add_argument(
        "--inference-profile",
        help="inference profile id or ARN the call goes through, e.g. us.anthropic.claude-...",
    )
    explain.add_argument(
        "--resource", default="*", help="resource ARN of a direct call (default *)"
    )
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(func=run_explain)

    matrix = subparsers.add_parser(
        "matrix",
        help="accounts x Regions x actions under the environment's SCPs",
        description=(
            "Decide every registry account x Region x action. With --plan, print only the "
            "cells the plan changes (before -> after)."
        ),
    )
    add_env_arguments(matrix)
    _source_arguments(matrix)
    matrix.add_argument(
        "--regions", help="comma-separated Regions (default: every commercial Region + unspecified)"
    )
    matrix.add_argument(
        "--actions",
        help="comma-separated actions (default: guarded and exempted actions + ec2:RunInstances)",
    )
    matrix.add_argument(
        "--inference-profile",
        help="decide calls through this profile id or ARN instead, one column per source Region",
    )
    matrix.add_argument("--format", choices=("markdown", "json"), default="markdown")
    matrix.set_defaults(func=run_matrix)

    verify = subparsers.add_parser(
        "verify",
        help="check the facts of envs/<env>/expectations.yaml; exit 1 names each broken one",
        description=(
            "Check every fact of the environment's expectations.yaml against the rendered "
            "policies (or a plan's, with --plan) and, for an environment with a sandbox "
            "(envs/local), against the running sandbox."
        ),
    )
    add_env_arguments(verify)
    verify.add_argument(
        "--plan", type=path_argument, help="plan JSON: check the policies it would apply"
    )
    verify.add_argument(
        "--sandbox",
        choices=("auto", "require", "skip"),
        default="auto",
        help="check the running sandbox too: auto (when the env has one and it runs), "
        "require, skip",
    )
    verify.add_argument("--sandbox-endpoint", help="endpoint of the sandbox (default: .sandbox/)")
    verify.add_argument(
        "--expectations", type=path_argument, help="expectations file (default: the env's)"
    )
    verify.add_argument(
        "--live",
        action="store_true",
        help="check the organization itself instead, read-only, as apply does afterwards: AWS "
        "Organizations with the caller's credentials (or the sandbox of --sandbox-endpoint); "
        "while the landing-zone Region deny is on, facts that hold only once it is off are "
        "named as waiting for migration step 4",
    )
    verify.add_argument("--format", choices=("text", "json"), default="text")
    verify.set_defaults(func=run_verify)


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--plan", type=path_argument, help="plan JSON: use the policies it would apply"
    )
    group.add_argument(
        "--sandbox-endpoint", help="read the organization from the sandbox at this endpoint"
    )
    parser.add_argument(
        "--landing-zone-region-deny",
        action="store_true",
        help="add the landing-zone Region deny to every first-tier OU (before the migration)",
    )


def _scenario(args: argparse.Namespace, env: Environment, *, before: bool = False) -> Scenario:
    try:
        if getattr(args, "sandbox_endpoint", None):
            return scenario_from_org(sandbox_facts(args.sandbox_endpoint), env)
        if getattr(args, "plan", None):
            side = "before" if before else "after"
            return scenario_from_plan(
                env,
                load_plan(args.plan),
                side,
                landing_zone_deny=args.landing_zone_region_deny,
            )
        return scenario_from_env(env, landing_zone_deny=args.landing_zone_region_deny)
    except PolicyError as exc:
        raise InputError(str(exc)) from exc


def _account_id(scenario: Scenario, text: str) -> str:
    if scenario.org.path(text) is not None:
        return text
    for account_id, name in scenario.account_names.items():
        if name == text:
            return account_id
    known = ", ".join(f"{n} ({i})" for i, n in sorted(scenario.account_names.items()))
    raise InputError(f"--account {text}: no such account in {scenario.source}; known: {known}")


# ---------------------------------------------------------------- explain


def run_explain(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    scenario = _scenario(args, env)
    account_id = _account_id(scenario, args.account)
    request = build_request(
        account_id,
        args.action,
        args.region,
        principal_arn=args.principal_arn,
        role_path=args.role_path,
        inference_profile=args.inference_profile,
        resource=args.resource,
        profile_data=load_profile_data(env.dir) if args.inference_profile else None,
    )
    try:
        decision = decide(Evaluator(scenario.org), request)
    except PolicyError as exc:
        raise InputError(str(exc)) from exc
    if args.format == "json":
        print(json.dumps(explain_json(scenario, request, decision), indent=2))
    else:
        print(explain_text(scenario, request, decision))
    return 0


def _leg_json(leg_decision: LegDecision) -> dict[str, Any]:
    leg, decision = leg_decision.leg, leg_decision.decision
    return {
        "kind": leg.kind,
        "region": leg.region,
        "resource": leg.resource,
        "inference_profile_arn": leg.inference_profile_arn,
        "decision": decision.effect,
        "basis": decision.basis,
        "reason": decision.reason,
        "statement": decision.statement.to_dict() if decision.statement else None,
    }


def explain_json(
    scenario: Scenario, request: CallRequest, decision: CallDecision
) -> dict[str, Any]:
    call = decision.call
    denied = decision.denied
    return {
        "source": scenario.source,
        "request": {
            "account": request.account_id,
            "account_name": scenario.account_names.get(request.account_id),
            "principal_arn": request.principal.caller_arn,
            "aws_principal_arn": call.principal_arn,
            "requested_action": request.action.requested,
            "action": request.action.iam_action,
            "region": request.region,
            "resource": request.resource,
            "inference_profile": request.profile.profile_id if request.profile else None,
            "inference_profile_arn": (
                request.profile.arn(request.region, request.account_id) if request.profile else None
            ),
        },
        "iam_action": request.action.iam_action,
        "operation": operation_json(request.action),
        "destinations": (
            destinations(request.profile, request.region).to_dict() if request.profile else None
        ),
        "note": unknown_path_note(request),
        **decision.decision.to_dict(),
        "legs": [_leg_json(ld) for ld in decision.legs],
        "denied_leg": decision.legs.index(denied) if denied is not None else None,
        "access_denied_message": decision.access_denied_message(),
    }


def explain_text(scenario: Scenario, request: CallRequest, decision: CallDecision) -> str:
    profile = request.profile
    via = f" via {profile.arn(request.region, request.account_id)}" if profile else ""
    lines = [
        f"{decision.effect}: {request.action.requested} in {request.region} by "
        f"{scenario.account_label(request.account_id)}{via}",
        f"principal: {request.principal.caller_arn}",
        f"policies: {scenario.source}",
    ]
    operation = request.action.operation
    if request.action.mapped and operation is not None:
        lines.insert(
            1,
            f"evaluated as: {request.action.iam_action} (AWS authorizes "
            f"{request.action.requested} as {request.action.iam_action}: {operation.page})",
        )
    if profile is not None:
        lines.append(f"destinations: {destinations(profile, request.region).describe()}")
    note = unknown_path_note(request)
    if note:
        lines.append(f"note: {note}")
    if len(decision.legs) > 1:
        lines.append(f"legs ({len(decision.legs)}; the call is allowed only if every one is):")
        for ld in decision.legs:
            lines.append(f"  {ld.decision.effect:<5} {ld.leg.describe()}: {ld.leg.resource}")
    message = decision.access_denied_message()
    if message and len(decision.legs) == 1:
        lines.append(message)
    lines.append(decision.decision.reason)
    return "\n".join(lines)


# ---------------------------------------------------------------- matrix


def _csv(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    items = tuple(p.strip() for p in text.split(",") if p.strip())
    if not items:
        raise InputError(f"{text!r}: give at least one comma-separated value")
    return items


def build_matrix(
    scenario: Scenario,
    regions: Sequence[str] | None,
    actions: Sequence[str] | None,
    profile: Profile | None = None,
) -> Matrix:
    """The matrix of direct calls, or of calls through ``profile``; bad names are exit 2."""
    accounts = list(scenario.account_names) or [a.account_id for a in scenario.org.accounts]
    if actions:
        resolved = [resolve_action(a) for a in actions]
    elif profile is not None:
        resolved = [resolve_action(a) for a in sorted(PROFILE_ACTIONS)]
    else:
        resolved = [matrix_action(a) for a in scenario.actions]
    try:
        evaluator = Evaluator(scenario.org)
        if profile is not None:
            sources = profile_sources(profile, regions)
            return call_matrix(evaluator, accounts, sources, resolved, profile)
        checked = [resolve_region(r) for r in regions] if regions else list(scenario.regions)
        return direct_matrix(evaluator, accounts, checked, resolved)
    except PolicyError as exc:
        raise InputError(str(exc)) from exc


def run_matrix(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    regions, actions = _csv(args.regions), _csv(args.actions)
    profile = None
    if args.inference_profile:
        profile = parse_profile(args.inference_profile, load_profile_data(env.dir))
        for action in actions or ():
            check_profile_action(resolve_action(action), profile.profile_id)
    after = _scenario(args, env)
    matrix = build_matrix(after, regions, actions, profile)
    if args.plan:
        before = build_matrix(_scenario(args, env, before=True), regions, actions, profile)
        changes = matrix_delta(before, matrix)
        if args.format == "json":
            print(json.dumps(delta_json(after, changes), indent=2))
        else:
            print(delta_markdown(after, changes))
        return 0
    if args.format == "json":
        print(json.dumps(matrix_json(after, matrix, profile), indent=2))
    else:
        print(matrix_markdown(after, matrix, profile))
    return 0


_MARK = {"ALLOW": "✅", "DENY": "❌", "N/A": "n/a"}


def matrix_markdown(scenario: Scenario, matrix: Matrix, profile: Profile | None = None) -> str:
    lines = [
        f"Who can call what, where ({scenario.source}); ✅ allowed, ❌ denied by SCPs"
        + (
            ", n/a no such request"
            if any(c.decision.effect == "N/A" for c in matrix.cells())
            else ""
        )
        + "."
    ]
    if profile is not None:
        lines.append(
            f"Calls through {profile.profile_id}, one column per source Region: allowed only "
            "when every Region the call may reach is allowed:"
        )
        lines.extend(f"- {line}" for line in reach_lines(profile, matrix.regions))
    lines.append("")
    for a, action in enumerate(matrix.actions):
        lines.append(f"### {action}")
        lines.append("")
        lines.append("| account | " + " | ".join(matrix.regions) + " |")
        lines.append("|---|" + "---|" * len(matrix.regions))
        for account_id, row in zip(matrix.account_ids, matrix.rows, strict=True):
            marks = " | ".join(_MARK[cells[a].effect] for cells in row)
            lines.append(f"| {scenario.account_label(account_id)} | {marks} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def matrix_json(
    scenario: Scenario, matrix: Matrix, profile: Profile | None = None
) -> dict[str, Any]:
    return {
        "source": scenario.source,
        "inference_profile": profile.profile_id if profile else None,
        "regions": list(matrix.regions),
        "actions": list(matrix.actions),
        "accounts": [
            {
                "id": account_id,
                "name": scenario.account_names.get(account_id),
                "decisions": {
                    region: {
                        action: cell.effect
                        for action, cell in zip(matrix.actions, cells, strict=True)
                    }
                    for region, cells in zip(matrix.regions, row, strict=True)
                },
            }
            for account_id, row in zip(matrix.account_ids, matrix.rows, strict=True)
        ],
    }


def delta_markdown(scenario: Scenario, changes: Sequence[CellChange]) -> str:
    if not changes:
        return f"Matrix delta ({scenario.source}): no cell changes."
    lines = [
        f"Matrix delta ({scenario.source}): {count(len(changes), 'cell')} change.",
        "",
        "| account | Region | action | before | after |",
        "|---|---|---|---|---|",
    ]
    for c in changes:
        lines.append(
            f"| {scenario.account_label(c.account_id)} | {c.region} | {c.action} | "
            f"{c.before or '-'} | {c.after or '-'} |"
        )
    return "\n".join(lines)


def delta_json(scenario: Scenario, changes: Sequence[CellChange]) -> dict[str, Any]:
    return {
        "source": scenario.source,
        "changes": [
            {
                "account": c.account_id,
                "account_name": scenario.account_names.get(c.account_id),
                "region": c.region,
                "action": c.action,
                "before": c.before,
                "after": c.after,
            }
            for c in changes
        ],
    }


# ---------------------------------------------------------------- verify


def _sandbox_endpoint(args: argparse.Namespace, env: Environment) -> str | None:
    if args.sandbox == "skip":
        return None
    if args.sandbox_endpoint:
        explicit: str = args.sandbox_endpoint
        return explicit
    if not env.has_sandbox:
        if args.sandbox == "require":
            raise InputError(f"{env.dir}: this environment has no sandbox (no sandbox.yaml)")
        return None
    endpoint = local_sandbox.running_endpoint(env)
    if endpoint is None:
        if args.sandbox == "require":
            raise InputError(f"no sandbox runs; start it with `{command('sandbox up')}`")
        print(
            "regionguard verify: no sandbox runs; checked the rendered policies only",
            file=sys.stderr,
        )
        return None
    return endpoint


def run_verify(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    path = args.expectations or env.expectations_path
    if args.live:
        return _verify_live(args, env, path)
    endpoint = _sandbox_endpoint(args, env)
    plan = load_plan(args.plan) if args.plan else None
    runs = verify_runs(env, path, plan=plan, endpoint=endpoint)
    broken = broken_facts(runs)
    if args.format == "json":
        print(json.dumps(verify_json(path, runs), indent=2))
    else:
        print(verify_text(path, runs))
    if broken:
        raise FindingsError(f"{path}: {count(broken, 'broken fact')}")
    return 0


def _verify_live(args: argparse.Namespace, env: Environment, path: Path) -> int:
    facts = OrgFacts(Aws(env.settings.home_region, args.sandbox_endpoint))
    staged = staged_from_org(env, path, facts)
    if args.format == "json":
        body = verify_json(path, staged.runs)
        body["waiting_for_step_4"] = [o.expectation.index for o in staged.waiting]
        print(json.dumps(body, indent=2))
    else:
        print(staged_text(path, staged))
    if staged.broken:
        raise FindingsError(f"{path}: {count(len(staged.broken), 'broken fact')}")
    return 0
