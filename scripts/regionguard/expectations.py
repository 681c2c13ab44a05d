"""Expectations: facts about who can call what, where, that must hold for an environment.

``envs/<env>/expectations.yaml`` lists them; the JSON Schema ships as
``regionguard/data/expectations.schema.json``. Each fact names accounts,
actions and Regions (or the shorthands all / permitted / not_permitted and
allowed / not_allowed) and whether SCPs must allow or deny every such call.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.evaluator import Decision, Evaluator, PolicyError
from regionguard.inputfile import EXPECTATIONS
from regionguard.orgfacts import OrgFacts
from regionguard.orgmodel import (
    UNSPECIFIED,
    LandingZoneDeny,
    Scenario,
    commercial_regions,
    read_landing_zone_deny,
    sandbox_facts,
    scenario_from_env,
    scenario_from_org,
    scenario_from_plan,
)
from regionguard.planfile import Plan
from regionguard.request import (
    Action,
    Profile,
    RequestError,
    build_request,
    check_region_for_action,
    check_source_region,
    decide,
    load_profile_data,
    parse_principal,
    parse_profile,
    resolve_action,
    resolve_region,
)
from regionguard.schemas import json_path, validator
from regionguard.words import count
from regionguard.yamlfile import read_yaml, schema_message

_ACCOUNT_IN_ARN = re.compile(r"^(arn:aws[a-z-]*:(?:iam|sts)::)[0-9]{12}(:.+)$")


@dataclass(frozen=True)
class Expectation:
    index: int
    fact: str
    accounts: str | tuple[str, ...]
    actions: tuple[str, ...]
    regions: str | tuple[str, ...]
    expect: str
    principal_arn: str | None = None
    inference_profile: str | None = None
    denied_by: str | None = None
    role_path: str | None = None
    profile: Profile | None = None

    def label(self) -> str:
        return f'expectations[{self.index}] "{self.fact}"'


@dataclass(frozen=True)
class Breach:
    """One call that breaks a fact."""

    account_id: str
    action: str
    region: str
    decision: Decision


@dataclass(frozen=True)
class Outcome:
    expectation: Expectation
    calls: int
    breaches: tuple[Breach, ...]

    @property
    def holds(self) -> bool:
        return not self.breaches


def load_expectations(path: Path, env_dir: Path | None = None) -> tuple[Expectation, ...]:
    """Read and validate an expectations file; InputError names the file, entry and fix."""
    data = read_yaml(
        path,
        missing="no expectations file; write one (schema: "
        "regionguard/data/expectations.schema.json)",
        kind=EXPECTATIONS,
    )
    errors = sorted(
        validator("expectations").iter_errors(data), key=lambda e: list(e.absolute_path)
    )
    if errors:
        lines = []
        for error in errors:
            where = json_path(error.absolute_path)
            lines.append(f"{path}: {where or 'top level'}: {schema_message(error)}")
        raise InputError("\n".join(lines))
    profile_data = load_profile_data(path.parent) if env_dir is None else load_profile_data(env_dir)
    out = []
    for index, raw in enumerate(data["expectations"]):
        accounts = raw["accounts"] if isinstance(raw["accounts"], str) else tuple(raw["accounts"])
        regions = raw["regions"] if isinstance(raw["regions"], str) else tuple(raw["regions"])
        exp = Expectation(
            index,
            raw["fact"],
            accounts,
            tuple(raw["actions"]),
            regions,
            raw["expect"],
            raw.get("principal_arn"),
            raw.get("inference_profile"),
            raw.get("denied_by"),
            raw.get("role_path"),
        )
        out.append(_checked(exp, path, profile_data))
    return tuple(out)


def _checked(exp: Expectation, path: Path, profile_data: Any) -> Expectation:
    """The fact with every name checked as a request would be, so none can hold vacuously."""
    try:
        actions = [resolve_action(action) for action in exp.actions]
        if isinstance(exp.regions, tuple):
            for region in exp.regions:
                resolve_region(region)
                if exp.inference_profile is None:
                    for action in actions:
                        check_region_for_action(action, region)
        if exp.principal_arn is not None:
            # Its account id is replaced by each listed account's: check it against its own.
            parts = exp.principal_arn.split(":")
            parse_principal(exp.principal_arn, parts[4] if len(parts) > 4 else "", exp.role_path)
        elif exp.role_path is not None:
            raise RequestError("role_path needs principal_arn (the session it describes)")
        profile = None
        if exp.inference_profile is not None:
            profile = parse_profile(exp.inference_profile, profile_data)
            if isinstance(exp.regions, tuple):
                for region in exp.regions:
                    check_source_region(profile, region)
    except RequestError as exc:
        raise InputError(f"{path}: {exp.label()}: {exc}") from exc
    return dataclasses.replace(exp, profile=profile)


def resolve_accounts(exp: Expectation, scenario: Scenario, where: str) -> tuple[str, ...]:
    # The shorthands name the member accounts: SCPs never affect the
    # management account, so a fact about SCPs cannot hold or fail for it.
    registry_ids = tuple(
        a for a in scenario.account_names if a != scenario.org.management_account_id
    )
    if exp.accounts == "all":
        return registry_ids
    if exp.accounts == "permitted":
        return tuple(a for a in registry_ids if a in scenario.permitted)
    if exp.accounts == "not_permitted":
        return tuple(a for a in registry_ids if a not in scenario.permitted)
    by_name = {name: account_id for account_id, name in scenario.account_names.items()}
    out = []
    for item in exp.accounts:
        if item in scenario.account_names:
            out.append(item)
        elif item in by_name:
            out.append(by_name[item])
        else:
            names = sorted(by_name)
            known = ", ".join(names[:10]) or "none"
            if len(names) > 10:
                known += f", … ({len(names):,} in all)"
            raise InputError(
                f"{where}: {exp.label()}: account {item!r} is not in the registry; "
                f"use a registry name or id (known: {known})"
            )
    return tuple(out)


def resolve_regions(
    exp: Expectation, scenario: Scenario, action: Action | None = None
) -> tuple[str, ...]:
    """The fact's Regions; of a profile fact, its source Regions (shorthands keep the profile's).

    ``not_allowed`` includes ``unspecified`` only for an action AWS makes
    Region-less requests for (the global leg of a global profile call).
    """
    if exp.regions == "allowed":
        regions: tuple[str, ...] = scenario.allowed_regions
    elif exp.regions == "not_allowed":
        allowed = set(scenario.allowed_regions)
        regions = tuple(r for r in commercial_regions() if r not in allowed)
        if exp.profile is None and (action is None or action.region_less):
            regions = (*regions, UNSPECIFIED)
    else:
        return tuple(exp.regions)
    if exp.profile is not None:
        return tuple(r for r in regions if r in exp.profile.sources)
    return regions


def _principal(template: str | None, account_id: str) -> str | None:
    if template is None:
        return None
    return _ACCOUNT_IN_ARN.sub(rf"\g<1>{account_id}\g<2>", template)


def check(
    expectations: Sequence[Expectation],
    scenario: Scenario,
    where: str,
    env_dir: Path | None = None,
) -> tuple[Outcome, ...]:
    """Evaluate every call each fact covers; a fact holds when no call breaks it.

    Each call is checked as ``explain`` checks it (:func:`build_request`).
    A fact of direct calls by each account's default principal (no
    principal, role path or inference profile) is then decided through
    :meth:`Evaluator.matrix`, which decides accounts whose condition values
    agree once and equals :func:`decide` call for call
    (tests/test_expectations.py binds the two); other facts call by call.
    """
    evaluator = Evaluator(scenario.org)
    profile_data = load_profile_data(env_dir)
    known = {a.account_id for a in scenario.org.accounts}
    outcomes = []
    for exp in expectations:
        accounts = resolve_accounts(exp, scenario, where)
        direct = exp.principal_arn is None and exp.role_path is None and exp.profile is None
        breaches = []
        calls = 0
        # The Regions of each action: the same for every account of the fact.
        per_action: list[tuple[str, Action, tuple[str, ...]]] | None = None
        for account_id in accounts:
            if account_id not in known:
                raise InputError(
                    f"{where}: {exp.label()}: account {account_id} is not in the organization "
                    f"({scenario.source})"
                )
            if per_action is None:
                per_action = []
                for action in exp.actions:
                    resolved = resolve_action(action)
                    per_action.append((action, resolved, resolve_regions(exp, scenario, resolved)))
            elif direct:
                # A direct fact's requests differ from the first account's only by
                # the account: checked once, decided below through the matrix.
                continue
            principal_arn = _principal(exp.principal_arn, account_id)
            for action, _, regions in per_action:
                for region in regions:
                    try:
                        request = build_request(
                            account_id,
                            action,
                            region,
                            principal_arn=principal_arn,
                            role_path=exp.role_path,
                            inference_profile=exp.profile.profile_id if exp.profile else None,
                            profile_data=profile_data,
                        )
                        if direct:
                            continue  # checked; the matrix decides it below
                        decision = decide(evaluator, request).decision
                    except RequestError as exc:
                        raise InputError(f"{where}: {exp.label()}: {exc}") from exc
                    calls += 1
                    if _breaks(exp, decision):
                        breaches.append(Breach(account_id, action, region, decision))
        if direct and per_action is not None:
            matrices = [
                evaluator.matrix(accounts, regions, [resolved.iam_action])
                for _, resolved, regions in per_action
            ]
            for a, account_id in enumerate(accounts):
                for (action, _, regions), matrix in zip(per_action, matrices, strict=True):
                    for r, region in enumerate(regions):
                        calls += 1
                        decision = matrix.rows[a][r][0]
                        if _breaks(exp, decision):
                            breaches.append(Breach(account_id, action, region, decision))
        outcomes.append(Outcome(exp, calls, tuple(breaches)))
    return tuple(outcomes)


def _breaks(exp: Expectation, decision: Decision) -> bool:
    if exp.expect == "allow":
        return not decision.allowed
    if decision.allowed:
        return True
    if exp.denied_by is not None:
        return decision.statement is None or decision.statement.sid != exp.denied_by
    return False


# ---------------------------------------------------------------- verification

MAX_BREACHES_SHOWN = 5

Run = tuple[Scenario, tuple[Outcome, ...]]


def verify_runs(
    env: Environment,
    path: Path,
    *,
    plan: Plan | None = None,
    endpoint: str | None = None,
    rendered: bool = True,
) -> list[Run]:
    """Check the facts of ``path`` against each source: rendered, a plan's after, the sandbox."""
    expectations = load_expectations(path, env.dir)
    scenarios: list[Scenario] = []
    try:
        if rendered:
            scenarios.append(scenario_from_env(env))
        if plan is not None:
            scenarios.append(scenario_from_plan(env, plan, "after"))
        if endpoint is not None:
            scenarios.append(scenario_from_org(sandbox_facts(endpoint), env))
        return [(s, check(expectations, s, str(path), env.dir)) for s in scenarios]
    except PolicyError as exc:
        raise InputError(str(exc)) from exc


def broken_facts(runs: Sequence[Run]) -> int:
    return sum(1 for _, outcomes in runs for o in outcomes if not o.holds)


def verify_text(path: Path, runs: Sequence[tuple[Scenario, tuple[Outcome, ...]]]) -> str:
    lines = []
    for scenario, outcomes in runs:
        held = sum(1 for o in outcomes if o.holds)
        lines.append(f"{path}: {held} of {len(outcomes)} facts hold, {scenario.source}")
        for outcome in outcomes:
            exp = outcome.expectation
            if outcome.holds:
                lines.append(f"  ok      {exp.fact} ({count(outcome.calls, 'call')})")
                continue
            lines.append(
                f"  BROKEN  {exp.label()}: {len(outcome.breaches)} of {outcome.calls} calls "
                f"are not {exp.expect.upper()}" + (f" by {exp.denied_by}" if exp.denied_by else "")
            )
            lines += _breach_lines(scenario, outcome)
    return "\n".join(lines)


def verify_json(path: Path, runs: Sequence[tuple[Scenario, tuple[Outcome, ...]]]) -> dict[str, Any]:
    return {
        "file": str(path),
        "runs": [
            {
                "source": scenario.source,
                "facts": [
                    {
                        "index": o.expectation.index,
                        "fact": o.expectation.fact,
                        "holds": o.holds,
                        "calls": o.calls,
                        "breaches": [
                            {
                                "account": b.account_id,
                                "action": b.action,
                                "region": b.region,
                                "decision": b.decision.effect,
                                "reason": b.decision.reason,
                            }
                            for b in o.breaches
                        ],
                    }
                    for o in outcomes
                ],
            }
            for scenario, outcomes in runs
        ],
    }


# ---------------------------------------------------------------- the migration

STEP_4 = "migration step 4 (turn the landing-zone Region deny off)"


@dataclass(frozen=True)
class Staged:
    """The facts of one source as the organization will be right after apply, and after step 4.

    While the landing-zone Region deny is on, no OU-level exemption re-opens a
    Region it denies (docs/adopt.md, Migration): a fact that holds once it is
    off but not while it is on *waits for step 4*; it is neither holding nor
    broken. ``after_step_4`` (the deny off) decides what is broken, so a
    plan or an apply fails on exactly the facts it fails on once the
    migration is done. ``now`` is None when the deny is off already.
    """

    after_step_4: Run
    now: Run | None = None
    deny: LandingZoneDeny | None = None

    def _later(self) -> dict[int, Outcome]:
        return {o.expectation.index: o for o in self.after_step_4[1]}

    @property
    def waiting(self) -> tuple[Outcome, ...]:
        """Facts broken while the landing-zone Region deny is on that hold once it is off."""
        if self.now is None:
            return ()
        later = self._later()
        return tuple(o for o in self.now[1] if not o.holds and later[o.expectation.index].holds)

    @property
    def broken(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.after_step_4[1] if not o.holds)

    @property
    def runs(self) -> list[Run]:
        """What decides the verdict: the organization after step 4."""
        return [self.after_step_4]


def staged_from_plan(
    env: Environment, path: Path, plan: Plan, deny: LandingZoneDeny | None
) -> Staged:
    """The facts over the plan's result: with the landing-zone Region deny still on, and off."""
    expectations = load_expectations(path, env.dir)
    try:
        after = scenario_from_plan(env, plan, "after")
        staged = Staged((after, check(expectations, after, str(path), env.dir)))
        if deny is None or not deny.on:
            return staged
        now = scenario_from_plan(env, plan, "after", landing_zone_deny=deny.by_ou)
        return Staged(
            staged.after_step_4, (now, check(expectations, now, str(path), env.dir)), deny
        )
    except PolicyError as exc:
        raise InputError(str(exc)) from exc


def staged_from_org(env: Environment, path: Path, facts: OrgFacts) -> Staged:
    """The facts over the organization as ``facts`` reads it, and as it will be after step 4.

    InputError when the organization cannot be read (the message says where).
    """
    expectations = load_expectations(path, env.dir)
    deny = read_landing_zone_deny(facts)
    if deny.unreadable is not None:
        raise InputError(f"cannot read the organization: {deny.unreadable}")
    try:
        as_read = scenario_from_org(facts, env)
        run = (as_read, check(expectations, as_read, str(path), env.dir))
        if not deny.on:
            return Staged(run)
        after = scenario_from_org(facts, env, landing_zone_deny=False)
        return Staged((after, check(expectations, after, str(path), env.dir)), run, deny)
    except PolicyError as exc:
        raise InputError(str(exc)) from exc


def staged_text(path: Path, staged: Staged) -> str:
    """``verify_text`` of the verdict's run; with the deny on, each waiting fact named apart."""
    if staged.now is None or staged.deny is None:
        return verify_text(path, staged.runs)
    scenario, outcomes = staged.now
    waiting = {o.expectation.index for o in staged.waiting}
    later = staged._later()
    held = sum(1 for o in outcomes if o.holds)
    broken = len(staged.broken)
    lines = [
        f"{path}: {held} of {len(outcomes)} facts hold, {len(waiting)} wait for {STEP_4}, "
        f"{broken} broken; {scenario.source}, with the landing-zone Region deny on "
        f"{staged.deny.label()}"
    ]
    for outcome in outcomes:
        exp = outcome.expectation
        if outcome.holds and later[exp.index].holds:
            lines.append(f"  ok      {exp.fact} ({count(outcome.calls, 'call')})")
        elif exp.index in waiting:
            lines.append(
                f"  WAITS   {exp.label()}: {len(outcome.breaches)} of {outcome.calls} calls are "
                f"not {exp.expect.upper()}"
                + (f" by {exp.denied_by}" if exp.denied_by else "")
                + f" while the landing-zone Region deny is on; it holds after {STEP_4}"
            )
            lines += _breach_lines(scenario, outcome)
        else:
            after = later[exp.index]
            lines.append(
                f"  BROKEN  {exp.label()}: {len(after.breaches)} of {after.calls} calls are not "
                f"{exp.expect.upper()}"
                + (f" by {exp.denied_by}" if exp.denied_by else "")
                + f", also after {STEP_4}"
            )
            lines += _breach_lines(staged.after_step_4[0], after)
    return "\n".join(lines)


def _breach_lines(scenario: Scenario, outcome: Outcome) -> list[str]:
    lines = [
        f"          {scenario.account_label(b.account_id)} {b.action} {b.region}: "
        f"{b.decision.effect}. {b.decision.reason}"
        for b in outcome.breaches[:MAX_BREACHES_SHOWN]
    ]
    hidden = len(outcome.breaches) - MAX_BREACHES_SHOWN
    if hidden > 0:
        lines.append(f"          ... and {hidden} more")
    return lines
