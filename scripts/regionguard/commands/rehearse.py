"""`regionguard rehearse`: docs/adopt.md's migration for an environment, on a sandbox."""

from __future__ import annotations

import argparse
from typing import Any

from regionguard import rehearsal
from regionguard.commands._args import (
    add_run_arguments,
    add_today_argument,
    environment_from_args,
)

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    rehearsal.rehearse(environment_from_args(args), timeout=args.timeout, port=args.sandbox_port)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rehearse",
        help="rehearse docs/adopt.md's migration for an environment on a sandbox seeded as its "
        "organization is today",
        description=(
            "Run the migration of docs/adopt.md for the environment's own settings, registry and "
            "expectations against a sandbox seeded as its organization is before it (its OUs, "
            "the landing zone, the landing-zone Region deny on): preflight, plan, apply, "
            "preflight, the landing-zone Region deny off, preflight and the facts against the "
            "organization, then the rollback (deny on, destroy). One line per step with its "
            "result and the command to run against AWS. Works on a copy in .rehearse/<env>; "
            "the environment itself is not touched. "
            "Exit 0 every step came out as docs/adopt.md says, 1 a step did not, 2 bad input."
        ),
    )
    add_run_arguments(
        parser,
        sandbox_port=0,
        sandbox_port_help="port of the rehearsal's own sandbox; 0: any free port",
    )
    add_today_argument(parser)
    parser.set_defaults(func=run)
