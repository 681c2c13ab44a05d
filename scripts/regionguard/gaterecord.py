"""The gate record: what ``regionguard plan`` vouches for, bound to the exact saved plan.

``regionguard plan`` writes ``tfplan.gate.json`` beside the saved plan only
when every stage passed (inputs, validate, the plan gate, the
expectations, checkov over the plan's JSON). It records checkov's verdict
and version, and holds the SHA-256 of the saved plan's bytes, of the plan's
JSON and of every input the plan was made from. ``regionguard apply``
applies the saved plan only when the record exists and every hash still
matches: a plan swapped under the review, or an input edited since, is
refused. No file times are trusted.

What apply judges is the plan, not the record: the accounts a plan permits
are read from ``terraform show -json`` of the saved plan being applied (its
SCP documents, :func:`permitted_in_plan`) and judged against the registry
on the day of the apply (:func:`expired_permits`), so a plan made the day
before, approved after midnight UTC, never re-applies an expired permit,
whatever the record says. The record proves consistency, not authorship:
anyone who can write files in the workspace can write a record whose hashes
match (docs/plan-gate.md, "What the gate record proves").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard import inputfile
from regionguard.atomic import write_atomic
from regionguard.environment import Environment
from regionguard.errors import FindingsError, InputError
from regionguard.planfile import POLICY_TYPE, Plan, is_unknown, parse_plan
from regionguard.scp import read_scp
from regionguard.settings import LOCK_FILE

__all__ = [
    "RECORD_VERSION",
    "PlanFiles",
    "Reviewed",
    "check_record",
    "expired_permits",
    "input_hash",
    "input_hashes",
    "judge_saved_plan",
    "permitted_in_plan",
    "private_copy",
    "text_sha256",
    "write_record",
]

RECORD_VERSION = 6


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


def sha256(path: Path, kind: inputfile.Kind = inputfile.SAVED_PLAN) -> str | None:
    """SHA-256 of a file read through the one input reader (None: it does not exist)."""
    return inputfile.sha256(path, kind)


def input_hashes(env: Environment) -> dict[str, str | None]:
    """SHA-256 of every file a plan of ``env`` is made from (None: the file is absent).

    The lock file as well: it decides which provider package applies the plan.
    """
    paths = [env.settings_path, env.registry_path, env.tfvars_path, env.expectations_path]
    paths.append(env.dir / LOCK_FILE)
    paths += sorted(
        p for p in env.dir.iterdir() if p.name.endswith(".tfvars") or ".tfvars." in p.name
    )
    return {p.name: input_hash(p) for p in dict.fromkeys(paths)}


def input_hash(path: Path) -> str | None:
    """SHA-256 of one input file, as :func:`input_hashes` takes it (None: absent)."""
    return sha256(path, inputfile.REGISTRY)


@dataclass(frozen=True)
class Reviewed:
    """What one run of the chain reviewed, hashed when it was read.

    ``inputs`` before Terraform read them, ``plan_sha256`` of the private
    copy of the saved plan that ``terraform show`` read, ``plan_json_sha256``
    of the JSON the gate, the proof and the expectations judged. The record
    binds these, and only when the files beside the plan still hash the same
    (:func:`write_record`).
    """

    inputs: Mapping[str, str | None]
    plan_sha256: str | None
    plan_json_sha256: str | None

    @classmethod
    def now(cls, files: PlanFiles, env: Environment) -> Reviewed:
        """The files as they are now (a record of files nobody changes meanwhile)."""
        return cls(input_hashes(env), sha256(files.plan), sha256(files.json, inputfile.PLAN_JSON))


@contextlib.contextmanager
def private_copy(plan: Path) -> Iterator[tuple[Path, str]]:
    """A copy of the saved plan that no other process can change, and its SHA-256.

    ``terraform show`` and ``terraform apply`` read the copy, in a folder of
    this process's alone (0700), so the plan judged and applied is the one
    hashed, whatever happens to ``tfplan`` meanwhile. The original is read
    once, through the one input reader (a regular file of the repository),
    and the copy written from the bytes hashed.
    """
    _sweep_private_copies()
    with tempfile.TemporaryDirectory(prefix=f"{_COPY_PREFIX}{os.getpid()}-") as folder:
        copy = Path(folder) / plan.name
        digest = inputfile.sha256(plan, inputfile.SAVED_PLAN, copy_to=copy)
        if digest is None:
            raise InputError(f"{plan}: no saved plan; run `make plan` first")
        yield copy, digest


# The private copies' folders: regionguard-plan-<pid of the apply>-<random>.
_COPY_PREFIX = "regionguard-plan-"


def _sweep_private_copies() -> None:
    """Remove the private copies of applies that were killed (their process is gone).

    A ``SIGKILL`` leaves no chance to remove the folder; the next apply of
    the same user does, for every such folder whose process no longer runs.
    """
    for folder in Path(tempfile.gettempdir()).glob(f"{_COPY_PREFIX}*-*"):
        pid = folder.name[len(_COPY_PREFIX) :].split("-", 1)[0]
        try:
            if not pid.isdigit() or folder.is_symlink() or folder.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # another user's process, or the folder went meanwhile


def text_sha256(text: str) -> str:
    """SHA-256 of ``text`` as written to a file (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_record(
    files: PlanFiles,
    env: Environment,
    *,
    reviewed: Reviewed,
    allow_destroy: bool,
    widening: Sequence[str],
    facts: int,
    checkov_version: str,
    permitted: Sequence[str] = (),
    proof: Mapping[str, str] | None = None,
) -> None:
    """Write the record of a plan that passed every stage, checkov's scan of it included.

    FindingsError, and no record, when the saved plan, its JSON or an input
    is not what the run reviewed: another run, or an edit, changed it meanwhile.
    """
    changed = [
        name
        for name, now, then in (
            (str(files.plan), sha256(files.plan), reviewed.plan_sha256),
            (str(files.json), sha256(files.json, inputfile.PLAN_JSON), reviewed.plan_json_sha256),
        )
        if now != then
    ]
    current = input_hashes(env)
    changed += [
        str(env.dir / name)
        for name in sorted(set(current) | set(reviewed.inputs))
        if current.get(name) != reviewed.inputs.get(name)
    ]
    if changed:
        raise FindingsError(
            f"plan {env.dir}: {', '.join(changed)} changed while the plan was reviewed (another "
            "run, or an edit); no gate record, so apply refuses it; run `make plan "
            f"ENV={env.name}` again"
        )
    record = {
        "version": RECORD_VERSION,
        "plan_sha256": reviewed.plan_sha256,
        "plan_json_sha256": reviewed.plan_json_sha256,
        "inputs": dict(reviewed.inputs),
        "gate": "passed",
        "expectations": "passed",
        "facts_checked": facts,
        "checkov": {"verdict": "passed", "version": checkov_version},
        "allow_destroy": allow_destroy,
        "widening": list(widening),
        "permitted_account_ids": sorted(permitted),
        "proof": dict(proof or {}),
        "planned_on": env.today.isoformat(),
    }
    write_atomic(files.record, json.dumps(record, indent=2) + "\n")


def check_record(files: PlanFiles, env: Environment, plan_sha256: str | None = None) -> list[str]:
    """Why the saved plan may not be applied by its record (empty: the record matches).

    ``plan_sha256``: the hash of the private copy apply will use
    (:func:`private_copy`), else the saved plan's own. The accounts the plan
    permits are judged apart, on the plan itself (:func:`judge_saved_plan`).
    """
    if not os.path.lexists(files.plan):
        return [f"{files.plan}: no saved plan; run `make plan ENV={env.name}` first"]
    if not os.path.lexists(files.record):
        return [
            f"{files.plan} has no gate record ({files.record}): it did not pass every stage of "
            f"`regionguard plan`; run `make plan ENV={env.name}`"
        ]
    text = inputfile.read_text(files.record, inputfile.GATE_RECORD, missing="no such file")
    try:
        record: Any = json.loads(text)
    except ValueError:
        return [f"{files.record}: not a gate record; run `make plan ENV={env.name}`"]
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        return [
            f"{files.record}: not a gate record of this version; run `make plan ENV={env.name}`"
        ]
    problems = []
    if record.get("plan_sha256") != (plan_sha256 or sha256(files.plan)):
        problems.append(
            f"{files.plan} is not the plan the gate reviewed (its SHA-256 differs); "
            f"run `make plan ENV={env.name}` again"
        )
    if record.get("plan_json_sha256") != sha256(files.json, inputfile.PLAN_JSON):
        problems.append(
            f"{files.json} is not the JSON of the plan the gate reviewed (its SHA-256 "
            f"differs); run `make plan ENV={env.name}` again"
        )
    recorded = record.get("inputs")
    if not isinstance(recorded, dict):
        return [
            f"{files.record}: not a gate record (its inputs are not an object of file names "
            f"and SHA-256s); run `make plan ENV={env.name}`"
        ]
    current = input_hashes(env)
    for name in sorted(set(recorded) | set(current)):
        if recorded.get(name) != current.get(name):
            problems.append(
                f"{env.dir / name} changed since the plan was reviewed; the plan may not show "
                f"what apply would do; run `make plan ENV={env.name}` again"
            )
    checkov = record.get("checkov")
    if (
        record.get("gate") != "passed"
        or record.get("expectations") != "passed"
        or not isinstance(checkov, dict)
        or checkov.get("verdict") != "passed"
    ):
        problems.append(f"{files.record}: the plan did not pass; run `make plan ENV={env.name}`")
    return problems


def permitted_in_plan(plan: Plan) -> frozenset[str]:
    """Every account an SCP of the plan permits after apply, read from the SCP documents.

    Each ``aws_organizations_policy`` the plan leaves is read with
    :func:`regionguard.scp.read_scp` (the one reader of an SCP): its
    ``aws:PrincipalAccount`` values. A content unknown until apply or
    unreadable is an InputError: what it permits cannot be told.
    """
    permitted: set[str] = set()
    for change in plan.of_type(POLICY_TYPE):
        if change.removes_for_good or not isinstance(change.after, dict):
            continue
        content = change.after.get("content")
        if is_unknown(change.after_unknown, "content") or not isinstance(content, str):
            raise InputError(
                f"{plan.source}: the content of {change.address} is unknown until apply, so "
                "which accounts it permits cannot be told; run `make plan` again"
            )
        view = read_scp(content)
        if view.error is not None:
            raise InputError(
                f"{plan.source}: {change.address} is not a readable SCP ({view.error}); "
                "run `make plan` again"
            )
        permitted.update(view.permitted_accounts)
    return frozenset(permitted)


def expired_permits(plan: Plan, env: Environment) -> list[str]:
    """The accounts the plan permits whose permit is not active on ``env.today`` (registry)."""
    accounts = env.registry.by_id()
    problems = []
    for account_id in sorted(permitted_in_plan(plan)):
        account = accounts.get(account_id)
        if account is not None and account.permit_active(env.today):
            continue
        if account is None:
            why = f"which {env.registry_path} does not name"
        elif account.expires is not None and account.bedrock_cross_region_inference:
            why = f"whose permit expired on {account.expires}"
        else:
            why = "whose permit has ended (bedrock_cross_region_inference is false)"
        name = f" ({account.name})" if account else ""
        problems.append(
            f"the saved plan permits {account_id}{name}, {why} (today is {env.today}); an "
            f"ended permit is never applied: run `make plan ENV={env.name}` again, which "
            "leaves it out"
        )
    return problems


def judge_saved_plan(plan_json: str, files: PlanFiles, env: Environment) -> Plan:
    """Refuse to apply the saved plan unless it is whole and every permit in it holds today.

    ``plan_json`` is ``terraform show -json`` of the saved plan about to be
    applied, not the record's word nor the ``tfplan.json`` beside it. Returns
    that plan.
    """
    plan = parse_plan(plan_json, f"terraform show -json {files.plan}")
    problems = expired_permits(plan, env)
    if problems:
        raise InputError("\n".join(problems))
    return plan
