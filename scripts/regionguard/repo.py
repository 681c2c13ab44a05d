"""The repository and its environments: where they are, and what day it is."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from regionguard.errors import InputError

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


def named_env_dir(name: str, root: Path | None = None) -> Path:
    """The folder of the environment ``name`` under ``envs/``; exit 2 when there is none."""
    root = root if root is not None else repo_root()
    known = env_names(root)
    if name not in known:
        raise InputError(
            f"envs/{name}: no such environment; choose one of: {', '.join(known) or 'none'}"
        )
    return root / "envs" / name


def existing_env_dir(env_dir: Path) -> Path:
    """``env_dir`` when it is a folder; exit 2 otherwise."""
    if not env_dir.is_dir():
        raise InputError(
            f"{env_dir}: no such environment folder; pass an existing folder to --env-dir"
        )
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
