"""`regionguard render`: the SCP and the control parameters exactly as Terraform sends them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from regionguard.commands._args import add_env_arguments, environment_from_args
from regionguard.layout import compute_layout
from regionguard.render import jsonencode, render_control_parameters, render_scp

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    ids = env.deployed_ids
    if env.stale:
        print(
            f"regionguard: warning: {env.tfvars_path} differs from the registry; this renders "
            "the committed file, which is what Terraform reads",
            file=sys.stderr,
        )
    if args.part in ("scp", "all"):
        single = render_scp(env.settings, ids)
        if compute_layout(env.settings, ids, (), {}).kind == "per_ou":
            print(
                "regionguard: warning: under the per_ou SCP layout Terraform sends one SCP per "
                "OU, listing the permitted accounts AWS Organizations places under it; this is "
                "the single SCP with every permitted account (docs/scale.md)",
                file=sys.stderr,
            )
        print(single)
    if args.part in ("control", "all"):
        print(jsonencode(render_control_parameters(env.settings)))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="print the SCP and the control parameters exactly as Terraform sends them",
        description=(
            "Print what Terraform will send for an environment: the Bedrock inference SCP "
            "byte for byte as jsonencode renders it (from terraform.tfvars and the committed "
            "accounts.auto.tfvars.json), and the Region deny control's parameters as a JSON "
            "object of JSON-encoded values. With no --part, the SCP line comes first."
        ),
    )
    add_env_arguments(parser)
    parser.add_argument(
        "--part",
        choices=("scp", "control", "all"),
        default="all",
        help="scp: the SCP document; control: the control parameters; all (default): both",
    )
    parser.set_defaults(func=run)
