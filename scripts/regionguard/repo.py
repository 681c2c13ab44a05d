"""The repository and its environments: where they are, and what day it is."""

from __future__ import annotations

import datetime
import os
import shutil
import sys
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


def program(argv0: str | None = None) -> str:
    """How to run regionguard again, as this process was run, for the commands messages suggest.

    ``regionguard`` when that name finds this program on PATH; the path it was
    run by otherwise (``.venv/bin/regionguard`` from the Makefile, relative to
    the working directory when below it), so that a command a message names
    runs where it is pasted. Run any other way (``python -m regionguard``, or
    ``main()`` called from Python), plain ``regionguard``.
    """
    invoked = sys.argv[0] if argv0 is None else argv0
    path = Path(invoked)
    if path.name != "regionguard" or os.sep not in invoked:
        return "regionguard"
    on_path = shutil.which("regionguard")
    if on_path is not None and Path(on_path).resolve() == path.resolve():
        return "regionguard"
    shown = relative_to_cwd(path)
    return str(shown) if shown.is_absolute() or os.sep in str(shown) else f".{os.sep}{shown}"


def command(arguments: str) -> str:
    """The command line that runs regionguard with ``arguments``: ``{program()} {arguments}``."""
    return f"{program()} {arguments}"


def today_utc() -> datetime.date:
    """Today in UTC: the same date on every machine that runs the tool at the same moment."""
    return datetime.datetime.now(datetime.UTC).date()
