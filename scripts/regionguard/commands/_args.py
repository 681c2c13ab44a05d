"""The options several commands share: the environment, the day, the Terraform run."""

from __future__ import annotations

import argparse
import datetime
import math
import os
from collections.abc import Callable
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
    "path_argument",
    "resolve_env_dir",
    "seconds_argument",
    "whole_number",
]

DEFAULT_SANDBOX_PORT = 4580
# Linux's limits on a file name and on a path (limits.h, NAME_MAX and PATH_MAX).
NAME_MAX = 255
PATH_MAX = 4096


def path_argument(text: str) -> Path:
    """argparse type of a file or folder given on the command line.

    Refused here, with the option named by argparse (exit 2), rather than by
    the first call that touches it: a NUL character, a name the file system
    cannot encode, a name or path longer than Linux allows.
    """
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} holds a NUL character, which no path can")
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a path this system can encode") from None
    if len(raw) >= PATH_MAX or any(len(part) > NAME_MAX for part in raw.split(b"/")):
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r}... is longer than a path ({PATH_MAX - 1} bytes) or a name in it "
            f"({NAME_MAX} bytes) can be"
        )
    return Path(text)


def whole_number(low: int, high: int, what: str) -> Callable[[str], int]:
    """argparse type of a whole number from ``low`` to ``high``: ``what`` names it in errors."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not {what} ({low:,} to {high:,})")
        return value

    return parse


def seconds_argument(text: str) -> float:
    """argparse type of a time limit: a finite number of seconds above 0, at most a week."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= 604_800):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds above 0 and at most 604,800 (a week)"
        )
    return value


def add_env_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the mutually exclusive --env NAME / --env-dir DIR options."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--env", metavar="NAME", help="environment under envs/ (local, staging, prod)"
    )
    group.add_argument(
        "--env-dir", metavar="DIR", type=path_argument, help="path of an environment folder"
    )


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
        type=seconds_argument,
        default=900.0,
        metavar="SECONDS",
        help="seconds any one terraform command may run before it is interrupted (default 900)",
    )
    parser.add_argument(
        "--sandbox-port",
        type=whole_number(0, 65535, "a port number"),
        default=sandbox_port,
        metavar="PORT",
        help=f"{sandbox_port_help} (default {sandbox_port})",
    )
