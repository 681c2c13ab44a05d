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
import sys
from typing import Any

from regionguard.atomic import write_atomic
from regionguard.commands._args import add_env_arguments, add_today_argument, environment_from_args
from regionguard.errors import FindingsError, InputError
from regionguard.registry import REGISTRY_FILE
from regionguard.words import count

__all__ = ["register"]

PERMITTED = "permitted account"


def _change_summary(old: tuple[str, ...] | None, new: tuple[str, ...]) -> str:
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


def run(args: argparse.Namespace) -> int:
    env = environment_from_args(args)
    generated = env.generated
    for warning in generated.warnings(env.registry_path, env.today):
        print(f"regionguard: warning: {warning}", file=sys.stderr)
    target = env.tfvars_path
    committed = env.committed
    if committed.text == generated.content:
        print(f"{target}: up to date ({count(len(generated.permitted_ids), PERMITTED)})")
        return 0
    exists = target.exists()
    summary = _change_summary(committed.ids if exists else None, generated.permitted_ids)
    if args.check:
        state = "does not exist" if not exists else f"differs from {REGISTRY_FILE} ({summary})"
        raise FindingsError(f"{target}: {state}; {env.tfvars_fix}")
    if not target.parent.is_dir():  # pragma: no cover - resolve_env_dir checked it
        raise InputError(f"{target.parent}: no such folder")
    write_atomic(target, generated.content)
    verb = "wrote" if not exists else "updated"
    print(f"{target}: {verb} ({count(len(generated.permitted_ids), PERMITTED)}; {summary})")
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
