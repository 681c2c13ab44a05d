"""The options several commands share: the environment, the day, the Terraform run."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from regionguard.environment import Environment
from regionguard.repo import existing_env_dir, named_env_dir, relative_to_cwd, today_utc

__all__ = [
    "DEFAULT_SANDBOX_PORT",
    "add_env_arguments",
    "add_run_arguments",
    "add_state_lock_argument",
    "add_today_argument",
    "environment_from_args",
    "parse_today",
    "resolve_env_dir",
]

DEFAULT_SANDBOX_PORT = 4580


def add_env_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the mutually exclusive --env NAME / --env-dir DIR options."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--env", metavar="NAME", help="environment under envs/ (local, staging, prod)"
    )
    group.add_argument("--env-dir", metavar="DIR", type=Path, help="path of an environment folder")


def resolve_env_dir(args: argparse.Namespace) -> Path:
    """The environment folder named by --env or --env-dir; exit 2 when it does not exist."""
    if getattr(args, "env_dir", None) is not None:
        return existing_env_dir(args.env_dir)
    return named_env_dir(args.env)


def parse_today(text: str) -> datetime.date:
    """argparse type for --today YYYY-MM-DD."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--today {text!r} is not a date; write it as YYYY-MM-DD"
        ) from None


def add_today_argument(parser: argparse.ArgumentParser) -> None:
    """The --today YYYY-MM-DD option of the commands that judge expiry dates."""
    parser.add_argument(
        "--today",
        type=parse_today,
        metavar="YYYY-MM-DD",
        help="the day against which expiry dates are compared (default: today in UTC)",
    )


def environment_from_args(args: argparse.Namespace) -> Environment:
    """The environment named by --env / --env-dir, judged on --today (default: today in UTC)."""
    today: datetime.date | None = getattr(args, "today", None)
    return Environment(relative_to_cwd(resolve_env_dir(args)), today or today_utc())


def add_state_lock_argument(parser: argparse.ArgumentParser) -> None:
    """--no-state-lock: the read-only plans (plan, review, drift) of the plan role."""
    parser.add_argument(
        "--no-state-lock",
        dest="state_lock",
        action="store_false",
        help="plan without taking the state lock (terraform plan -lock=false): for a role "
        "that may read the state but not write its lock object (the plan role)",
    )


def add_run_arguments(
    parser: argparse.ArgumentParser,
    *,
    sandbox_port: int = DEFAULT_SANDBOX_PORT,
    sandbox_port_help: str = "port of the local sandbox",
) -> None:
    """--env/--env-dir, --timeout and --sandbox-port: the commands that run Terraform."""
    add_env_arguments(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="seconds any one terraform command may run before it is interrupted (default 900)",
    )
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=sandbox_port,
        metavar="PORT",
        help=f"{sandbox_port_help} (default {sandbox_port})",
    )
