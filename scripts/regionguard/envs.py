"""Finding the repository and its environments."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from regionguard.errors import InputError

ENV_MARKER = "backend.tf"


def repo_root(start: Path | None = None) -> Path:
    """The repository root: $REGIONGUARD_ROOT, or the nearest ancestor with envs/ and modules/."""
    override = os.environ.get("REGIONGUARD_ROOT")
    if override:
        return Path(override).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "envs").is_dir() and (candidate / "modules").is_dir():
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
