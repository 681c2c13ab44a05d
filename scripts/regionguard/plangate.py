"""Subcommands of the plan gate: plan-diff, plan-gate and apply-guard.

- ``plan-diff PLAN_JSON`` prints the review of any JSON plan (text, markdown
  or json) and exits 1 when the gate fails.
- ``plan-gate --env NAME`` reviews the environment's saved plan, writes the
  markdown beside it (``tfplan.md``) and records the verdict, bound to the
  saved plan's bytes, in ``tfplan.gate.json``.
- ``apply-guard --env NAME`` refuses a saved plan that failed the gate, was
  not checked by it, changed since, or is older than the registry, the
  settings or the generated tfvars.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard.atomic import write_atomic
from regionguard.envs import add_env_arguments, resolve_env_dir
from regionguard.errors import InputError
from regionguard.findings import Finding
from regionguard.plandiff import PlanReview, Validator, load_plan, render, review_plan
from regionguard.registry import REGISTRY_FILE, load_registry
from regionguard.settings import DEFAULT_SCP_SIZE_LIMIT, GENERATED_TFVARS, SETTINGS_FILE
from regionguard.validate import validate_documents

PLAN_FILE = "tfplan"
PLAN_JSON = "tfplan.json"
PLAN_MARKDOWN = "tfplan.md"
GATE_RECORD = "tfplan.gate.json"
RECORD_VERSION = 1

# A saved plan older than any of these files no longer shows what apply would do.
PLAN_INPUTS = (REGISTRY_FILE, SETTINGS_FILE, GENERATED_TFVARS)

# Rules of regionguard.validate that the plan review checks itself, per OU and
# against the SCPs actually attached there: exemptions guarded (the review
# only counts an SCP attached to the same OU) and the home Region allowed.
_REVIEWED_BY_THE_PLAN = frozenset({"RG-CTRL-UNGUARDED", "RG-CTRL-HOME-REGION"})
_SCP_SIDE, _CONTROL_SIDE = "scp", "control"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diff = subparsers.add_parser(
        "plan-diff",
        help="review a JSON plan: semantic summary and gate",
        description=(
            "Review the JSON of a saved plan (`terraform show -json tfplan`): resources "
            "changed, the SCP's accounts, Regions, actions, options and size, the control's "
            "parameters per OU, first-tier OUs left uncovered. Widening changes come first. "
            "Exit 1 when the gate fails, with each reason."
        ),
    )
    diff.add_argument("plan", type=Path, metavar="PLAN_JSON", help="output of terraform show -json")
    diff.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="output format"
    )
    diff.add_argument(
        "--registry",
        type=Path,
        metavar="FILE",
        help="accounts registry naming the accounts (default: accounts.yaml beside the plan, "
        "when there is one)",
    )
    diff.add_argument("--output", type=Path, metavar="FILE", help="write the review here")
    _review_options(diff)
    diff.set_defaults(func=run_plan_diff)

    gate = subparsers.add_parser(
        "plan-gate",
        help="review an environment's saved plan; write tfplan.md and the gate's verdict",
        description=(
            f"Review {PLAN_JSON} of the environment, write the markdown summary to "
            f"{PLAN_MARKDOWN} and the verdict to {GATE_RECORD} beside the saved plan, and "
            "print the summary. Exit 1 when the gate fails."
        ),
    )
    add_env_arguments(gate)
    _review_options(gate)
    gate.set_defaults(func=run_plan_gate)

    guard = subparsers.add_parser(
        "apply-guard",
        help="refuse a saved plan that failed the gate or is out of date",
        description=(
            f"Exit 0 only when {PLAN_FILE} passed the gate, is the plan the gate checked, "
            f"and is newer than {', '.join(PLAN_INPUTS)}. Exit 1 when the gate failed, "
            "2 when the plan is missing, unchecked, changed or out of date."
        ),
    )
    add_env_arguments(guard)
    guard.set_defaults(func=run_apply_guard)


def _review_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-destroy",
        action="store_true",
        help="let the plan delete or replace controls, SCPs and attachments",
    )
    parser.add_argument(
        "--home-region",
        metavar="REGION",
        help="Control Tower home Region (default: the plan's home_region variable)",
    )
    parser.add_argument(
        "--size-limit",
        type=_positive_int,
        metavar="CHARS",
        help="SCP size limit in characters (default: the plan's scp_size_limit variable, "
        f"else {DEFAULT_SCP_SIZE_LIMIT:,})",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of characters")
    return value


# ------------------------------------------------------------------ plan-diff


def review_file(
    plan_path: Path,
    *,
    registry: Path | None,
    registry_required: bool,
    allow_destroy: bool,
    home_region: str | None,
    size_limit: int | None,
) -> PlanReview:
    """Load and review one JSON plan file, naming accounts from ``registry``."""
    plan = load_plan(plan_path)
    names = _account_names(registry, required=registry_required)
    planned_limit = _plan_variable(plan, "scp_size_limit")
    if size_limit is None and type(planned_limit) is int and planned_limit > 0:
        size_limit = planned_limit
    limit = size_limit or DEFAULT_SCP_SIZE_LIMIT
    wildcards = _plan_variable(plan, "allow_wildcard_exemptions") is True
    return review_plan(
        plan,
        source=str(plan_path),
        allow_destroy=allow_destroy,
        account_names=names,
        home_region=home_region,
        size_limit=limit,
        validator=document_validator(limit, allow_wildcard_exemptions=wildcards),
    )


def _plan_variable(plan: Mapping[str, Any], name: str) -> Any:
    variables = plan.get("variables")
    variable = variables.get(name) if isinstance(variables, dict) else None
    return variable.get("value") if isinstance(variable, dict) else None


def document_validator(size_limit: int, *, allow_wildcard_exemptions: bool) -> Validator:
    """The plan review's validator: regionguard.validate's document rules.

    ``validate_documents`` checks an SCP and a parameter set together; a side
    the plan does not pair (an SCP on OUs without the control, a control on
    an OU without an SCP) is checked with an empty stand-in whose findings
    are dropped.
    """

    def check(
        content: str | None, parameters: Mapping[str, str] | None
    ) -> tuple[list[Finding], list[Finding]]:
        findings = validate_documents(
            content if content is not None else "{}",
            parameters if parameters is not None else {},
            home_region=None,
            size_limit=size_limit,
            allow_wildcard_exemptions=allow_wildcard_exemptions,
            scp_file=_SCP_SIDE,
            control_file=_CONTROL_SIDE,
        )
        kept = [f for f in findings if f.rule_id not in _REVIEWED_BY_THE_PLAN]
        scp = [f for f in kept if f.file == _SCP_SIDE] if content is not None else []
        control = [f for f in kept if f.file == _CONTROL_SIDE] if parameters is not None else []
        return scp, control

    return check


def _account_names(registry: Path | None, *, required: bool) -> dict[str, str]:
    if registry is None:
        return {}
    if not registry.exists() and not required:
        return {}
    try:
        return {a.id: a.name for a in load_registry(registry).accounts}
    except InputError as exc:
        if required:
            raise
        print(f"regionguard: warning: accounts not named: {exc}", file=sys.stderr)
        return {}


def run_plan_diff(args: argparse.Namespace) -> int:
    plan_path: Path = args.plan
    registry: Path | None = args.registry
    review = review_file(
        plan_path,
        registry=registry or plan_path.parent / REGISTRY_FILE,
        registry_required=registry is not None,
        allow_destroy=args.allow_destroy,
        home_region=args.home_region,
        size_limit=args.size_limit,
    )
    text = render(review, args.format)
    if args.output is not None:
        write_atomic(args.output, text)
        print(f"plan-diff: gate {'passed' if review.passed else 'failed'}; wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0 if review.passed else 1


# ------------------------------------------------------------------ plan-gate


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_plan_gate(args: argparse.Namespace) -> int:
    env_dir = resolve_env_dir(args)
    plan_file = env_dir / PLAN_FILE
    plan_json = env_dir / PLAN_JSON
    record = env_dir / GATE_RECORD
    # A verdict left from an earlier plan must never vouch for this one.
    record.unlink(missing_ok=True)
    (env_dir / PLAN_MARKDOWN).unlink(missing_ok=True)
    if not plan_file.is_file():
        raise InputError(f"{plan_file}: no saved plan; run `make plan` first")
    if not plan_json.is_file():
        raise InputError(
            f"{plan_json}: no JSON of the saved plan; run "
            f"`terraform -chdir={env_dir} show -json {PLAN_FILE} > {plan_json}`"
        )
    if plan_json.stat().st_mtime_ns < plan_file.stat().st_mtime_ns:
        raise InputError(
            f"{plan_json} is older than {plan_file}: it may describe another plan; "
            f"run `terraform -chdir={env_dir} show -json {PLAN_FILE} > {plan_json}`"
        )
    plan_digest = _sha256(plan_file)
    review = review_file(
        plan_json,
        registry=env_dir / REGISTRY_FILE,
        registry_required=False,
        allow_destroy=args.allow_destroy,
        home_region=args.home_region,
        size_limit=args.size_limit,
    )
    write_atomic(env_dir / PLAN_MARKDOWN, render(review, "markdown"))
    verdict = {
        "version": RECORD_VERSION,
        "plan": PLAN_FILE,
        "plan_sha256": plan_digest,
        "plan_json_sha256": _sha256(plan_json),
        "passed": review.passed,
        "allow_destroy": review.allow_destroy,
        "reasons": [f.to_dict() for f in review.reasons],
    }
    write_atomic(record, json.dumps(verdict, indent=2) + "\n")
    sys.stdout.write(render(review, "text"))
    print(f"plan-gate: wrote {env_dir / PLAN_MARKDOWN} and {record}")
    return 0 if review.passed else 1


# ------------------------------------------------------------------ apply-guard


@dataclass(frozen=True)
class GuardResult:
    """Why apply-guard refuses (empty: the saved plan may be applied)."""

    problems: tuple[str, ...]
    gate_failed: bool

    @property
    def exit_code(self) -> int:
        if not self.problems:
            return 0
        return 1 if self.gate_failed else 2


def check_saved_plan(env_dir: Path) -> GuardResult:
    """Check that the saved plan of ``env_dir`` may be applied."""
    plan_file = env_dir / PLAN_FILE
    record_file = env_dir / GATE_RECORD
    if not plan_file.is_file():
        return GuardResult((f"{plan_file}: no saved plan; run `make plan` first",), False)
    problems: list[str] = []
    plan_time = plan_file.stat().st_mtime_ns
    for name in PLAN_INPUTS:
        source = env_dir / name
        if source.exists() and source.stat().st_mtime_ns > plan_time:
            problems.append(
                f"{plan_file} is older than {source}: the plan may not show what apply "
                "would do; run `make plan` again"
            )
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(
            f"{plan_file} was not checked by the plan gate ({record_file} is missing); "
            "run `make plan`"
        )
        return GuardResult(tuple(problems), False)
    except (json.JSONDecodeError, UnicodeDecodeError):
        problems.append(f"{record_file}: not a gate record; run `make plan`")
        return GuardResult(tuple(problems), False)
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        problems.append(f"{record_file}: not a gate record of this version; run `make plan`")
        return GuardResult(tuple(problems), False)
    if record.get("plan_sha256") != _sha256(plan_file):
        problems.append(
            f"{plan_file} changed after the plan gate checked it; run `make plan` again"
        )
        return GuardResult(tuple(problems), False)
    if record.get("passed") is not True:
        reasons = [
            str(r.get("message")) for r in record.get("reasons") or [] if isinstance(r, dict)
        ]
        problems.append(
            f"{plan_file} failed the plan gate; fix the plan or the settings and run "
            "`make plan` again. Reasons:" + "".join(f"\n  - {r}" for r in reasons)
        )
        return GuardResult(tuple(problems), True)
    return GuardResult(tuple(problems), False)


def run_apply_guard(args: argparse.Namespace) -> int:
    env_dir = resolve_env_dir(args)
    result = check_saved_plan(env_dir)
    for problem in result.problems:
        print(f"apply-guard: {problem}", file=sys.stderr)
    if result.exit_code == 0:
        print(f"apply-guard: {env_dir / PLAN_FILE} passed the plan gate and is up to date")
    return result.exit_code
