"""Finding the repository and its environments."""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path
from typing import TYPE_CHECKING

from regionguard.errors import InputError

if TYPE_CHECKING:
    from regionguard.environment import Environment

ENV_MARKER = "backend.tf"


def is_repository(folder: Path) -> bool:
    """True for a regionguard repository's root: a folder holding envs/ and modules/."""
    return (folder / "envs").is_dir() and (folder / "modules").is_dir()


def repo_root(start: Path | None = None) -> Path:
    """The repository root: $REGIONGUARD_ROOT, or the nearest ancestor with envs/ and modules/."""
    override = os.environ.get("REGIONGUARD_ROOT")
    if override:
        return Path(override).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if is_repository(candidate):
            return candidate
    raise InputError(
        f"{here}: not inside a regionguard repository (no envs/ and modules/ above it); "
        "run from the repository or pass --env-dir"
    )


def env_names(root: Path) -> list[str]:
    """Names of the environments: the folders of envs/ that hold a backend.tf."""
    envs = root / "envs"
    return sorted(p.parent.name for p in envs.glob(f"*/{ENV_MARKER}"))


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
        env_dir: Path = args.env_dir
        if not env_dir.is_dir():
            raise InputError(
                f"{env_dir}: no such environment folder; pass an existing folder to --env-dir"
            )
        return env_dir
    root = repo_root()
    name: str = args.env
    env_dir = root / "envs" / name
    if name not in env_names(root):
        known = ", ".join(env_names(root)) or "none"
        raise InputError(f"envs/{name}: no such environment; choose one of: {known}")
    return env_dir


def relative_to_cwd(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it, for messages."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def today_utc() -> datetime.date:
    """Today in UTC: the same date on every machine that runs the tool at the same moment."""
    return datetime.datetime.now(datetime.UTC).date()


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
    from regionguard.environment import Environment

    today: datetime.date | None = getattr(args, "today", None)
    return Environment(relative_to_cwd(resolve_env_dir(args)), today or today_utc())
