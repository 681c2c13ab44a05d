"""A rehearsal of docs/adopt.md's migration for one environment, against a sandbox.

``make rehearse ENV=staging`` runs, in order, what docs/adopt.md has a
person run against AWS, on a sandbox seeded as the environment's organization
is before the migration: its settings, its registry and its expectations, the
first-tier OUs its registry names (and those it records as not registered),
the landing zone in its home Region governing ``allowed_regions``, and the
landing-zone Region deny on. One line per step says what came out and the
command a person runs against AWS; each step's output goes to
``.rehearse/<env>.log``.

The environment is not touched. The rehearsal works on a copy of it,
``.rehearse/<env>/`` (git-ignored), an environment folder of its own:

- ``terraform.tfvars``, ``accounts.yaml``, the generated tfvars,
  ``expectations.yaml``, the lock file and the inference-profile data are
  copied; a ``management_account_id`` that is a placeholder (the committed
  samples are) is replaced by :data:`REHEARSAL_MANAGEMENT_ACCOUNT_ID`, and
  the rehearsal says so;
- the shared ``.tf`` files are linked to, as the environment links to them;
- ``providers.tf`` is the environment's own with its ``provider "aws"``
  block replaced by the sandbox provider of ``envs/local/providers.tf``
  (the sandbox's credentials, every address but loopback refused);
  ``backend.tf`` is ``envs/local``'s local
  backend. These are whole files, not override files: the one door into
  Terraform (:mod:`regionguard.door`) refuses override files in every
  environment folder, this one included;
- ``sandbox.yaml`` describes the organization above; the sandbox keeps its
  state in ``.rehearse/<env>/.sandbox/`` (:func:`regionguard.local_sandbox.state_dir`),
  on a free port, and is stopped at the end.

Every step runs the code a person runs (preflight's checks, the chain of
plan and apply, destroy); only turning the landing-zone Region deny off and
on, a console step in AWS, is the sandbox's admin call.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from regionguard import local_sandbox, pipeline
from regionguard.atomic import write_atomic
from regionguard.aws import Aws
from regionguard.environment import EXPECTATIONS_FILE, SANDBOX_FILE, Environment
from regionguard.errors import FindingsError, InputError, RegionguardError
from regionguard.expectations import STEP_4, Staged, staged_from_org
from regionguard.inputs import is_placeholder_account_id
from regionguard.orgfacts import OrgFacts
from regionguard.preflight import (
    CONSOLE_REGION_DENY_OFF,
    CONSOLE_REGION_DENY_ON,
    Check,
    env_checks,
    record_unregistered,
    run_preflight,
)
from regionguard.registry import REGISTRY_FILE
from regionguard.repo import relative_to_cwd, repo_root
from regionguard.request import ENV_PROFILE_FILES
from regionguard.sandbox import process
from regionguard.sandbox.settings import load_sandbox_settings
from regionguard.settings import GENERATED_TFVARS, LOCK_FILE, SETTINGS_FILE
from regionguard.words import count

__all__ = [
    "REHEARSAL_FOLDER",
    "REHEARSAL_MANAGEMENT_ACCOUNT_ID",
    "Rehearsal",
    "prepare",
    "rehearse",
]

REHEARSAL_FOLDER = ".rehearse"
# The sandbox's management account where the environment's is a placeholder.
REHEARSAL_MANAGEMENT_ACCOUNT_ID = "900000000001"
PROVIDERS_FILE = "providers.tf"
BACKEND_FILE = "backend.tf"
# The sandbox provider and the local backend every rehearsal copy uses.
SANDBOX_ENV = "local"
LOG_TAIL_LINES = 40

_PROVIDER_BLOCK = re.compile(r'^provider "aws" \{\n.*?^\}\n', re.MULTILINE | re.DOTALL)
_ENVIRONMENT_TAG = re.compile(r'"environment" = "[^"]*"')
_MANAGEMENT_ID = re.compile(r'^(management_account_id\s*=\s*)"([0-9]{12})"', re.MULTILINE)


@dataclass(frozen=True)
class Rehearsal:
    """The copy of an environment a rehearsal works on, and what it says about it."""

    env: Environment  # the copy, .rehearse/<env>
    source: Environment  # the environment rehearsed
    management_account_id: str
    replaced_management_id: str | None  # the placeholder it replaced, if any
    ous: tuple[str, ...]
    unregistered: tuple[str, ...]
    log: Path


# ---------------------------------------------------------------- the copy


def _block(pattern: re.Pattern[str], text: str, path: Path, what: str) -> re.Match[str]:
    match = pattern.search(text)
    if match is None:
        raise InputError(
            f"{path}: no {what} block at the top level, as terraform fmt writes it; the "
            "rehearsal builds its provider from it (run `make fmt`)"
        )
    return match


def providers_text(env_dir: Path, sandbox_dir: Path) -> str:
    """``env_dir``'s providers.tf with the sandbox's provider."""
    own_path, sandbox_path = env_dir / PROVIDERS_FILE, sandbox_dir / PROVIDERS_FILE
    own, sandbox = own_path.read_text(encoding="utf-8"), sandbox_path.read_text(encoding="utf-8")
    provider = _block(_PROVIDER_BLOCK, sandbox, sandbox_path, 'provider "aws"').group(0)
    provider = _ENVIRONMENT_TAG.sub(f'"environment" = "{env_dir.resolve().name}"', provider)
    replaced = _block(_PROVIDER_BLOCK, own, own_path, 'provider "aws"')
    header = (
        f"# Written by `regionguard rehearse` from {relative_to_cwd(own_path)}: its provider\n"
        f"# replaced by the sandbox's of {relative_to_cwd(sandbox_path)}. Do not edit.\n\n"
    )
    body = own[: replaced.start()] + provider + own[replaced.end() :]
    return header + body


def _ous(source: Environment) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The first-tier OUs of the organization today: (every one, those not registered)."""
    if source.has_sandbox:
        sandbox = load_sandbox_settings(source.dir)
        return sandbox.first_tier_ous, sandbox.unregistered_ous
    names: list[str] = []
    for account in source.registry.accounts:
        if account.ou and account.ou.split("/")[0] not in names:
            names.append(account.ou.split("/")[0])
    settings = source.settings
    for selector in (*settings.target_ou_include, *settings.target_ou_exclude):
        if not selector.startswith("ou-") and selector not in names:
            names.append(selector)  # a target selector by name names an OU of the organization
    unregistered = tuple(source.unregistered_ous.values())
    names += [n for n in unregistered if n not in names]
    return tuple(names), unregistered


def _sandbox_yaml(
    source: Environment, management: str, ous: Sequence[str], unregistered: Sequence[str]
) -> str:
    settings = source.settings
    lines = [
        f"# Written by `regionguard rehearse` from {source.dir}: its organization before the",
        "# migration of docs/adopt.md, with the landing-zone Region deny on. Do not edit.",
        f'management_account_id: "{management}"',
        f"registry: {REGISTRY_FILE}",
        "organizational_units:",
    ]
    # A JSON string is a YAML double-quoted scalar: any OU name stays one string.
    lines += [
        f"  - {{name: {json.dumps(name)}, registered: false}}"
        if name in unregistered
        else f"  - {json.dumps(name)}"
        for name in ous
    ]
    lines += [
        "landing_zone:",
        f"  home_region: {settings.home_region}",
        "  governed_regions:",
        *(f"    - {region}" for region in settings.allowed_regions),
        "  region_deny: true",
    ]
    return "\n".join(lines) + "\n"


def prepare(source: Environment, root: Path | None = None) -> Rehearsal:
    """Write ``.rehearse/<env>/`` afresh from ``source``: no state, no plan, no sandbox."""
    root = root if root is not None else repo_root()
    sandbox_dir = root / "envs" / SANDBOX_ENV
    name = source.name
    folder = root / REHEARSAL_FOLDER / name
    src = source.dir
    if not (src / LOCK_FILE).is_file():
        raise InputError(
            f"{src / LOCK_FILE}: no dependency lock file; the rehearsal plans with the "
            f"providers the environment's lock file pins: restore the committed {LOCK_FILE}"
        )
    with contextlib.suppress(FileNotFoundError):
        process.down(folder / ".sandbox")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    settings_text = (src / SETTINGS_FILE).read_text(encoding="utf-8")
    management = source.management_account_id or REHEARSAL_MANAGEMENT_ACCOUNT_ID
    replaced = None
    if is_placeholder_account_id(management):
        replaced, management = management, REHEARSAL_MANAGEMENT_ACCOUNT_ID
        settings_text, found = _MANAGEMENT_ID.subn(rf'\g<1>"{management}"', settings_text)
        if found != 1 and "management_account_id" in source.settings.extra:
            raise InputError(
                f"{source.settings_path}: management_account_id is not one line "
                '`management_account_id = "<12 digits>"`; the rehearsal replaces the '
                "placeholder there"
            )
    if management in source.account_names:
        raise InputError(
            f"{source.registry_path}: account {management} is the rehearsal's management "
            "account; give the management account its real id in terraform.tfvars"
        )
    write_atomic(folder / SETTINGS_FILE, settings_text)
    copied = [REGISTRY_FILE, GENERATED_TFVARS, EXPECTATIONS_FILE, LOCK_FILE, *ENV_PROFILE_FILES]
    for file in copied:
        if (src / file).is_file():
            shutil.copyfile(src / file, folder / file)
    for path in sorted(src.glob("*.tf")):
        if path.name in (PROVIDERS_FILE, BACKEND_FILE):
            continue
        if path.is_symlink():
            (folder / path.name).symlink_to(os.path.relpath(path.resolve(), folder))
        else:
            shutil.copyfile(path, folder / path.name)
    if (src / PROVIDERS_FILE).is_file() and not source.has_sandbox:
        write_atomic(folder / PROVIDERS_FILE, providers_text(src, sandbox_dir))
    else:
        shutil.copyfile(sandbox_dir / PROVIDERS_FILE, folder / PROVIDERS_FILE)
    shutil.copyfile(sandbox_dir / BACKEND_FILE, folder / BACKEND_FILE)
    ous, unregistered = _ous(source)
    write_atomic(folder / SANDBOX_FILE, _sandbox_yaml(source, management, ous, unregistered))
    log = root / REHEARSAL_FOLDER / f"{name}.log"
    log.unlink(missing_ok=True)
    copy = Environment(relative_to_cwd(folder), source.today)
    return Rehearsal(copy, source, management, replaced, ous, unregistered, log)


# ---------------------------------------------------------------- the steps


class StepFailed(FindingsError):
    """A step did not come out as docs/adopt.md says it must (exit 1)."""


@dataclass
class _Run:
    rehearsal: Rehearsal
    options: pipeline.RunOptions
    endpoint: str
    info: process.SandboxInfo
    out: TextIO
    number: int = 0

    @property
    def env(self) -> Environment:
        return self.rehearsal.env

    @property
    def name(self) -> str:
        return self.rehearsal.source.name

    def facts(self) -> OrgFacts:
        return OrgFacts(Aws(self.env.settings.home_region, self.endpoint))

    def step(self, title: str, aws: str, body: Callable[[], str]) -> None:
        """Run one step with its output in the log; one line with its result, or StepFailed."""
        self.number += 1
        log = self.rehearsal.log
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"\n===== step {self.number}: {title}\n")
            handle.flush()
            start = handle.tell()
            try:
                with contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
                    result = body()
            except (RegionguardError, process.SandboxError) as exc:
                handle.flush()
                failed = f"{exc}"
                self._line(title, f"FAILED: {failed}", aws)
                tail = _tail(log, start)
                if tail:
                    print(f"    last lines of its output ({relative_to_cwd(log)}):", file=self.out)
                    for line in tail:
                        print(f"    | {line}", file=self.out)
                raise StepFailed(
                    f"rehearse {self.rehearsal.source.dir}: step {self.number} ({title}) "
                    f"failed; its output is in {relative_to_cwd(log)}"
                ) from None
        self._line(title, result, aws)

    def _line(self, title: str, result: str, aws: str) -> None:
        print(f"{self.number:>2}. {title}: {result}", file=self.out)
        print(f"      against AWS: {aws}", file=self.out, flush=True)


def _tail(log: Path, start: int) -> list[str]:
    with log.open(encoding="utf-8", errors="replace") as handle:
        handle.seek(start)
        lines = [line.rstrip("\n") for line in handle if line.strip()]
    return lines[-LOG_TAIL_LINES:]


def _failing(checks: Sequence[Check]) -> list[Check]:
    return [c for c in checks if c.status == "fail"]


def _preflight(run: _Run, *, want: str | None) -> str:
    """Preflight against the sandbox; ``want``: the migration step its Region deny check names."""
    checks = run_preflight(run.env, run.facts())
    for check in checks:
        print(f"{check.status.upper():<5} {check.id}: {check.message}")
    failing = _failing(checks)
    deny = next(c for c in checks if c.id == "landing-zone-region-deny")
    others = [c for c in failing if c.id != "landing-zone-region-deny"]
    if others:
        raise StepFailed(
            "preflight fails "
            + "; ".join(f"{c.id}: {c.message}" for c in others)
            + " (docs/adopt.md: no other check may fail)"
        )
    if want is None:
        if deny.status == "fail":
            raise StepFailed(f"landing-zone-region-deny: {deny.message}")
        return f"passes: {deny.message.split(': ', 1)[-1]}"
    if deny.status != "fail" or want not in deny.message:
        raise StepFailed(f"landing-zone-region-deny should say {want!r}: {deny.message}")
    return f"fails only landing-zone-region-deny, at {want}, as it must here"


def _facts_summary(staged: Staged) -> str:
    total = len(staged.after_step_4[1])
    waiting = len(staged.waiting)
    held = total - waiting - len(staged.broken)
    text = f"{held} of {count(total, 'fact')} hold"
    if waiting:
        text += f", {waiting} wait for {STEP_4.split(' (')[0]}"
    return text


def _set_deny(run: _Run, enabled: bool) -> str:
    report = process.set_landing_zone_region_deny(run.info, enabled)
    print(f"seeding report: {report}")
    deny = run.facts()
    on = [ou.name for ou in deny.first_tier if deny.landing_zone_region_deny_scps(ou.id)]
    if enabled:
        return f"on again in the sandbox, on {', '.join(on) or 'no OU'}"
    if on:
        raise StepFailed(f"the landing-zone Region deny is still on {', '.join(on)}")
    return "off in the sandbox (the console step of docs/adopt.md)"


def _steps(run: _Run) -> Iterator[tuple[str, str, Callable[[], str]]]:
    name = run.name
    facts_cmd = f".venv/bin/regionguard verify --env {name} --live"

    def record() -> str:
        # As a person with the committed unregistered_ous file has it (adopt.md, step 6).
        record_unregistered(run.env.dir, run.facts())
        run.env.forget("unregistered_ous")
        return _preflight(run, want="migration step 1-2")

    def plan() -> str:
        staged = pipeline.plan(run.env, run.options)
        return f"passed; {_facts_summary(staged)}"

    def apply() -> str:
        applied = pipeline.apply(run.env, run.options)
        return f"applied ({applied.done}); in the organization {_facts_summary(applied.staged)}"

    def verify() -> str:
        staged = staged_from_org(run.env, run.env.expectations_path, run.facts())
        if staged.broken or staged.waiting:
            raise StepFailed(f"the facts after step 4: {_facts_summary(staged)}")
        return f"{_facts_summary(staged)} in the organization"

    def refused() -> str:
        try:
            pipeline.destroy(run.env, run.options, confirm=name)
        except InputError as exc:
            print(f"refused: {exc}")
            if "landing-zone Region deny is off" not in str(exc):
                raise
            return "refused while the landing-zone Region deny is off, as it must be"
        raise StepFailed("destroy ran while the landing-zone Region deny was off")

    def destroy() -> str:
        pipeline.destroy(run.env, run.options, confirm=name)
        facts, ours = run.facts(), run.env.settings.scp_name
        left = [p.name for p in facts.scps if p.name == ours or p.name.startswith(ours + "-")]
        # The sandbox seeds no control: every enabled control there is this project's.
        left += [
            f"an enabled control on {ou.name}"
            for ou in facts.first_tier
            if facts.enabled_controls(ou.arn)
        ]
        if left:
            raise StepFailed(f"destroyed, but {', '.join(left)} is still there")
        return f"destroyed; no SCP named {ours} and no enabled control is left"

    yield "preflight (step 1)", f"make preflight ENV={name}", record
    yield "plan (step 2)", f"make plan ENV={name}", plan
    yield "apply (step 2)", f"make apply ENV={name}", apply
    yield (
        "preflight (step 3)",
        f"make preflight ENV={name}",
        lambda: _preflight(run, want="migration step 4"),
    )
    yield (
        "landing-zone Region deny off (step 4)",
        CONSOLE_REGION_DENY_OFF,
        lambda: _set_deny(run, False),
    )
    yield "preflight (step 5)", f"make preflight ENV={name}", lambda: _preflight(run, want=None)
    yield "facts against the organization (step 5)", facts_cmd, verify
    yield (
        "rollback: destroy with the deny still off",
        f"make destroy ENV={name} CONFIRM={name}",
        refused,
    )
    yield (
        "rollback: landing-zone Region deny on",
        CONSOLE_REGION_DENY_ON,
        lambda: _set_deny(run, True),
    )
    yield "rollback: destroy", f"make destroy ENV={name} CONFIRM={name}", destroy
    yield (
        "preflight after the rollback",
        f"make preflight ENV={name}",
        lambda: _preflight(run, want="migration step 1-2"),
    )


def _before_aws(source: Environment) -> list[str]:
    """What the environment's own files still lack for a run against AWS (preflight's checks)."""
    return [
        f"{c.id}: {c.message}"
        for c in env_checks(source.dir, source.settings)
        if c.status == "fail"
    ]


def rehearse(
    source: Environment,
    *,
    timeout: float = 900.0,
    port: int = 0,
    out: TextIO | None = None,
) -> None:
    """Rehearse the migration of ``source``; StepFailed (exit 1) names the step that failed."""
    stream = out if out is not None else sys.stdout
    rehearsal = prepare(source)
    env = rehearsal.env
    settings = env.settings
    print(
        f"rehearse {source.dir}: the migration of docs/adopt.md on a sandbox seeded as its "
        "organization is before it",
        file=stream,
    )
    management = rehearsal.management_account_id
    if rehearsal.replaced_management_id is not None:
        management += (
            f" (in place of the placeholder {rehearsal.replaced_management_id} of "
            f"{source.settings_path})"
        )
    unregistered = (
        f" ({', '.join(rehearsal.unregistered)} not registered)" if rehearsal.unregistered else ""
    )
    print(
        f"  organization: first-tier OUs {', '.join(rehearsal.ous) or 'none'}{unregistered}; "
        f"landing zone in {settings.home_region} governing {', '.join(settings.allowed_regions)}; "
        f"landing-zone Region deny on; management account {management}",
        file=stream,
    )
    print(
        f"  environment: {env.dir}, a copy of {source.dir} whose provider and backend point at "
        f"the sandbox; each step's output: {relative_to_cwd(rehearsal.log)}",
        file=stream,
        flush=True,
    )
    state = local_sandbox.state_dir(env)
    info, _ = process.up(state, env.dir.resolve(), port=port)
    try:
        run = _Run(
            rehearsal,
            pipeline.RunOptions(timeout=timeout, sandbox_port=info.port),
            info.endpoint,
            info,
            stream,
        )
        for title, aws, body in _steps(run):
            run.step(title, aws, body)
    finally:
        process.down(state)
    print(
        f"rehearse {source.dir}: passed: the migration and its rollback ran as docs/adopt.md "
        "describes",
        file=stream,
    )
    missing = _before_aws(source)
    if missing:
        print(f"  before running it against AWS, fix in {source.dir}:", file=stream)
        for line in missing:
            print(f"    {line}", file=stream)
