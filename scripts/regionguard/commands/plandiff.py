"""`regionguard plan-diff PLAN_JSON`: the review of any saved plan's JSON, and the gate's verdict.

Prints the review (:mod:`regionguard.review`) as text, markdown or JSON and
exits 1 when the gate fails. ``regionguard plan`` runs the same review on the
plan it makes; this command serves a plan made elsewhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from regionguard.atomic import write_atomic
from regionguard.commands._args import path_argument, whole_number
from regionguard.errors import InputError
from regionguard.planfile import load_plan
from regionguard.registry import REGISTRY_FILE, load_registry
from regionguard.review import PlanReview, review_plan
from regionguard.review_format import FORMATS, format_review
from regionguard.settings import DEFAULT_SCP_SIZE_LIMIT

__all__ = ["register", "review_file"]


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
    diff.add_argument(
        "plan", type=path_argument, metavar="PLAN_JSON", help="output of terraform show -json"
    )
    diff.add_argument("--format", choices=FORMATS, default="text", help="output format")
    diff.add_argument(
        "--registry",
        type=path_argument,
        metavar="FILE",
        help="accounts registry naming the accounts (default: accounts.yaml beside the plan, "
        "when there is one)",
    )
    diff.add_argument("--output", type=path_argument, metavar="FILE", help="write the review here")
    diff.add_argument(
        "--allow-destroy",
        action="store_true",
        help="let the plan delete or replace controls, SCPs and attachments",
    )
    diff.add_argument(
        "--home-region",
        metavar="REGION",
        help="Control Tower home Region (default: the plan's home_region variable)",
    )
    diff.add_argument(
        "--size-limit",
        type=whole_number(1, 1_000_000, "a positive number of characters"),
        metavar="CHARS",
        help="SCP size limit in characters (default: the plan's scp_size_limit variable, "
        f"else {DEFAULT_SCP_SIZE_LIMIT:,})",
    )
    diff.set_defaults(func=run_plan_diff)


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
    return review_plan(
        plan,
        allow_destroy=allow_destroy,
        account_names=_account_names(registry, required=registry_required),
        home_region=home_region,
        size_limit=size_limit,
    )


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
    text = format_review(review, args.format)
    if args.output is not None:
        write_atomic(args.output, text)
        print(f"plan-diff: gate {'passed' if review.passed else 'failed'}; wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0 if review.passed else 1
