"""`regionguard prove`: the guardrail's properties, decided by z3 for every request."""

from __future__ import annotations

import argparse
import json
from typing import Any

from regionguard.commands._args import (
    add_env_arguments,
    add_today_argument,
    environment_from_args,
    path_argument,
)
from regionguard.errors import FindingsError
from regionguard.planfile import load_plan
from regionguard.repo import program


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prove",
        help="prove P1-P4 of the guardrail for every request, with counterexamples",
        description=(
            "Compile the SCPs in force on every targeted OU into formulas over a symbolic "
            "request and decide with z3, for all requests: P1 closed, P2 Region deny intact, "
            "P3 open where intended and, with --plan, P4 no widening by surprise. A property "
            "that fails prints a counterexample the evaluator confirmed and the explain "
            "command that reproduces it. Exit 0: all hold; 1: one fails; 2: bad input or a "
            "policy prove does not model."
        ),
    )
    add_env_arguments(parser)
    add_today_argument(parser)
    parser.add_argument(
        "--plan",
        type=path_argument,
        help="plan JSON: prove its after-state, and P4 over its change",
    )
    parser.add_argument(
        "--landing-zone-region-deny",
        action="store_true",
        help="add the landing-zone Region deny to every first-tier OU (before the migration)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(func=run_prove)


def _explain_prefix(args: argparse.Namespace) -> list[str]:
    out = [program(), "explain"]
    out += ["--env", args.env] if args.env else ["--env-dir", str(args.env_dir)]
    if args.plan:
        out += ["--plan", str(args.plan)]
    if args.landing_zone_region_deny:
        out.append("--landing-zone-region-deny")
    return out


def run_prove(args: argparse.Namespace) -> int:
    # z3 and the proof load here, not for every command (docs/architecture.md).
    from regionguard.prove import listed_from_plan, run

    env = environment_from_args(args)
    plan = load_plan(args.plan) if args.plan else None
    listed = listed_from_plan(plan) if plan is not None else None
    report = run(
        env,
        plan=plan,
        listed=listed,
        landing_zone_deny=args.landing_zone_region_deny,
        explain_prefix=_explain_prefix(args),
    )
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.text())
    failed = report.failed()
    if failed:
        raise FindingsError(
            "prove: " + ", ".join(f"{p.id} {p.title}" for p in failed) + " does not hold"
        )
    return 0
