"""The gate record: what ``regionguard plan`` vouches for, bound to the exact saved plan.

``regionguard plan`` writes ``tfplan.gate.json`` beside the saved plan only
when every stage passed (inputs, validate, the plan gate, the
expectations). It holds the SHA-256 of the saved plan's bytes and of every
input the plan was made from, and the accounts the plan permits.
``regionguard apply`` applies the saved plan only when the record exists and
every hash still matches: a plan swapped under the review, or an input edited
since, is refused. No file times are trusted. A plan that permits an account
whose permit has expired since (the plan was made the day before, the
approval came after midnight UTC) is refused too: no apply re-applies an
expired permit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard.atomic import write_atomic
from regionguard.environment import Environment

__all__ = ["RECORD_VERSION", "PlanFiles", "check_record", "input_hashes", "write_record"]

RECORD_VERSION = 3


@dataclass(frozen=True)
class PlanFiles:
    """The files ``regionguard plan`` writes beside an environment's saved plan."""

    dir: Path

    @property
    def plan(self) -> Path:
        return self.dir / "tfplan"

    @property
    def json(self) -> Path:
        return self.dir / "tfplan.json"

    @property
    def review(self) -> Path:
        return self.dir / "tfplan.md"

    @property
    def record(self) -> Path:
        return self.dir / "tfplan.gate.json"

    def clear(self) -> None:
        """Remove every artifact of an earlier plan: no old verdict may vouch for a new plan."""
        for path in (self.record, self.plan, self.json, self.review):
            path.unlink(missing_ok=True)


def sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def input_hashes(env: Environment) -> dict[str, str | None]:
    """SHA-256 of every file a plan of ``env`` is made from (None: the file is absent)."""
    paths = [env.settings_path, env.registry_path, env.tfvars_path, env.expectations_path]
    paths += sorted(
        p for p in env.dir.iterdir() if p.name.endswith(".tfvars") or ".tfvars." in p.name
    )
    return {p.name: sha256(p) for p in dict.fromkeys(paths)}


def write_record(
    files: PlanFiles,
    env: Environment,
    *,
    allow_destroy: bool,
    widening: Sequence[str],
    facts: int,
    permitted: Sequence[str] = (),
    proof: Mapping[str, str] | None = None,
) -> None:
    """Write the record of a plan that passed every stage."""
    record = {
        "version": RECORD_VERSION,
        "plan_sha256": sha256(files.plan),
        "inputs": input_hashes(env),
        "gate": "passed",
        "expectations": "passed",
        "facts_checked": facts,
        "allow_destroy": allow_destroy,
        "widening": list(widening),
        "permitted_account_ids": sorted(permitted),
        "proof": dict(proof or {}),
        "planned_on": env.today.isoformat(),
    }
    write_atomic(files.record, json.dumps(record, indent=2) + "\n")


def check_record(files: PlanFiles, env: Environment) -> list[str]:
    """Why the saved plan may not be applied (empty: it may)."""
    if not files.plan.is_file():
        return [f"{files.plan}: no saved plan; run `make plan ENV={env.name}` first"]
    try:
        record: Any = json.loads(files.record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [
            f"{files.plan} has no gate record ({files.record}): it did not pass every stage of "
            f"`regionguard plan`; run `make plan ENV={env.name}`"
        ]
    except (ValueError, UnicodeDecodeError):
        return [f"{files.record}: not a gate record; run `make plan ENV={env.name}`"]
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        return [
            f"{files.record}: not a gate record of this version; run `make plan ENV={env.name}`"
        ]
    problems = []
    if record.get("plan_sha256") != sha256(files.plan):
        problems.append(
            f"{files.plan} is not the plan the gate reviewed (its SHA-256 differs); "
            f"run `make plan ENV={env.name}` again"
        )
    recorded: Mapping[str, Any] = record.get("inputs") or {}
    current = input_hashes(env)
    for name in sorted(set(recorded) | set(current)):
        if recorded.get(name) != current.get(name):
            problems.append(
                f"{env.dir / name} changed since the plan was reviewed; the plan may not show "
                f"what apply would do; run `make plan ENV={env.name}` again"
            )
    problems.extend(_expired_since(record, env))
    if record.get("gate") != "passed" or record.get("expectations") != "passed":
        problems.append(f"{files.record}: the plan did not pass; run `make plan ENV={env.name}`")
    return problems


def _expired_since(record: Mapping[str, Any], env: Environment) -> list[str]:
    """The plan permits an account whose permit is no longer active on ``env.today``."""
    permitted = record.get("permitted_account_ids")
    if not isinstance(permitted, list) or not all(isinstance(i, str) for i in permitted):
        return [f"{PlanFiles(env.dir).record}: no list of permitted accounts; run `make plan`"]
    accounts = env.registry.by_id()
    problems = []
    for account_id in permitted:
        account = accounts.get(account_id)
        if account is None or not account.permit_active(env.today):
            when = f"expired on {account.expires}" if account and account.expires else "ended"
            problems.append(
                f"the saved plan permits {account_id}"
                + (f" ({account.name})" if account else "")
                + f", whose permit {when} (today is {env.today}, the plan was made on "
                f"{record.get('planned_on')}); an expired permit is never applied: run "
                f"`make plan ENV={env.name}` again, which leaves it out"
            )
    return problems
