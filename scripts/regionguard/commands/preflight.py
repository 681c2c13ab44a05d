"""`regionguard preflight`: read-only checks of the organization before the first plan."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from regionguard import local_sandbox
from regionguard.aws import Aws, AwsCallError
from regionguard.commands._args import add_env_arguments, environment_from_args
from regionguard.environment import UNREGISTERED_TFVARS, Environment
from regionguard.errors import InputError
from regionguard.orgfacts import OrgFacts
from regionguard.preflight import record_unregistered, render, run_preflight
from regionguard.repo import relative_to_cwd

__all__ = ["register"]


def _sandbox_endpoint(env: Environment, explicit: str | None) -> str | None:
    if explicit is not None:
        return explicit
    if not env.has_sandbox:  # AWS, with the caller's credentials
        return None
    endpoint = local_sandbox.running_endpoint(env)
    if endpoint is None:
        raise InputError(
            "the local sandbox is not running; start it with make sandbox-up (or pass "
            "--sandbox-endpoint URL)"
        )
    return endpoint


def run(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    endpoint = _sandbox_endpoint(env, args.sandbox_endpoint)
    facts = OrgFacts(Aws(env.settings.home_region, endpoint))
    if args.write_tfvars:
        try:
            if record_unregistered(env.dir, facts):
                where = relative_to_cwd(env.dir / UNREGISTERED_TFVARS)
                print(f"regionguard preflight: wrote {where}", file=sys.stderr)
        except (AwsCallError, InputError):
            pass  # the checks report why the organization cannot be read
    checks = run_preflight(env, facts)
    sys.stdout.write(render(checks, args.format))
    return 1 if any(c.status == "fail" for c in checks) else 0


def _endpoint(text: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(:[0-9]+)?/?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL such as http://127.0.0.1:4580")
    return text.rstrip("/")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="read-only checks of the organization before the first plan",
        description=(
            "Check, read-only, what the plan and the apply need from the organization: the "
            "landing zone, the control identifier, the registration of the first-tier OUs, "
            "the Regions, the SCP quota, the landing-zone Region deny and the migration step. "
            "The environment's own files are checked first, with no credentials. "
            "Runs against AWS with the caller's credentials, or against the local sandbox "
            "(the default for the local environment)."
        ),
        epilog="exit codes: 0 no check fails, 1 a check fails, 2 usage or input error",
    )
    add_env_arguments(parser)
    parser.add_argument(
        "--sandbox-endpoint",
        type=_endpoint,
        default=None,
        help="URL of a sandbox to check instead of AWS (default for local: the running sandbox)",
    )
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument(
        "--write-tfvars",
        action="store_true",
        help=f"record the unregistered first-tier OUs in {UNREGISTERED_TFVARS}",
    )
    parser.set_defaults(func=run)
