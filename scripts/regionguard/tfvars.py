"""`regionguard tfvars`: the registry to accounts.auto.tfvars.json, deterministically.

The generated file holds one key, ``bedrock_permitted_account_ids``: the ids
whose permit holds today, sorted, unique, as strings, one per line (JSON
indented by 2, newline at the end), so that a pull request's diff shows
exactly the accounts added and removed. Expired permits are left out with a
warning naming them; permits ending within 30 days are announced.
``--check`` writes nothing and exits 1 when the committed file differs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard.atomic import write_atomic
from regionguard.envs import add_env_arguments, relative_to_cwd, resolve_env_dir
from regionguard.errors import FindingsError, InputError
from regionguard.registry import REGISTRY_FILE, Registry, load_registry
from regionguard.settings import GENERATED_TFVARS

__all__ = [
    "TFVARS_KEY",
    "Generated",
    "add_today_argument",
    "generate",
    "parse_today",
    "read_generated_ids",
    "register",
    "render_tfvars",
    "today_utc",
]

TFVARS_KEY = "bedrock_permitted_account_ids"


def render_tfvars(permitted_ids: tuple[str, ...] | list[str]) -> str:
    """The bytes of accounts.auto.tfvars.json for these ids (sorted and made unique here)."""
    ids = sorted(set(permitted_ids))
    return json.dumps({TFVARS_KEY: ids}, indent=2) + "\n"


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


@dataclass(frozen=True)
class Generated:
    """What the registry generates on one day, with the notices that go with it."""

    registry: Registry
    content: str
    permitted_ids: tuple[str, ...]
    warnings: tuple[str, ...]


def generate(env_dir: Path, today: datetime.date) -> Generated:
    """Read the env's registry and build the generated file's bytes (writes nothing)."""
    registry = load_registry(env_dir / REGISTRY_FILE)
    ids = registry.permitted_ids(today)
    warnings: list[str] = []
    index = {a.id: i for i, a in enumerate(registry.accounts)}
    for account in registry.expired(today):
        warnings.append(
            f"{registry.path}: accounts[{index[account.id]}] ({account.name}): permit expired "
            f"on {account.expires}; left out of {GENERATED_TFVARS}. Remove the entry, set "
            "bedrock_cross_region_inference: false, or renew expires"
        )
    for account in registry.expiring(today):
        assert account.expires is not None
        days = (account.expires - today).days
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        warnings.append(
            f"{registry.path}: accounts[{index[account.id]}] ({account.name}): permit ends "
            f"{when} ({account.expires}); renew expires if it must go on"
        )
    return Generated(registry, render_tfvars(ids), ids, tuple(warnings))


def read_generated_ids(path: Path) -> list[str] | None:
    """The ids listed by a generated file, or None when it is missing or not in shape."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ids = data.get(TFVARS_KEY) if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return None
    return ids


def _change_summary(old: list[str] | None, new: tuple[str, ...]) -> str:
    if old is None and not new:
        return "no account permitted"
    before = set(old or [])
    added = sorted(set(new) - before)
    removed = sorted(before - set(new))
    parts = []
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    return "; ".join(parts) if parts else "same accounts, different bytes"


def _count(n: int) -> str:
    return f"{n} permitted account{'s' if n != 1 else ''}"


def run(args: argparse.Namespace) -> int:
    env_dir = relative_to_cwd(resolve_env_dir(args))
    today: datetime.date = args.today or today_utc()
    generated = generate(env_dir, today)
    for warning in generated.warnings:
        print(f"regionguard: warning: {warning}", file=sys.stderr)
    target = env_dir / GENERATED_TFVARS
    try:
        current = target.read_bytes().decode("utf-8")
    except FileNotFoundError:
        current = None
    except UnicodeDecodeError:
        current = ""
    if current == generated.content:
        print(f"{target}: up to date ({_count(len(generated.permitted_ids))})")
        return 0
    old_ids = read_generated_ids(target) if current is not None else None
    summary = _change_summary(old_ids, generated.permitted_ids)
    if args.check:
        state = "does not exist" if current is None else f"differs from {REGISTRY_FILE} ({summary})"
        raise FindingsError(
            f"{target}: {state}; run `regionguard tfvars --env-dir {env_dir}` "
            "(or `make tfvars ENV=<env>`) and commit the result"
        )
    if not target.parent.is_dir():  # pragma: no cover - resolve_env_dir checked it
        raise InputError(f"{target.parent}: no such folder")
    write_atomic(target, generated.content)
    verb = "wrote" if current is None else "updated"
    print(f"{target}: {verb} ({_count(len(generated.permitted_ids))}; {summary})")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tfvars",
        help="generate accounts.auto.tfvars.json from accounts.yaml",
        description=(
            "Write the permitted account ids of accounts.yaml (sorted, unique) to "
            "accounts.auto.tfvars.json. Expired permits are left out with a warning; "
            "permits ending within 30 days are announced. Exit 0 written or up to date, "
            "1 --check found a difference, 2 bad input (nothing is written)."
        ),
    )
    add_env_arguments(parser)
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the committed file differs from what would be generated",
    )
    add_today_argument(parser)
    parser.set_defaults(func=run)


def add_today_argument(parser: argparse.ArgumentParser) -> None:
    """The --today YYYY-MM-DD option of the commands that judge expiry dates."""
    parser.add_argument(
        "--today",
        type=parse_today,
        metavar="YYYY-MM-DD",
        help="the day against which expiry dates are compared (default: today in UTC)",
    )
