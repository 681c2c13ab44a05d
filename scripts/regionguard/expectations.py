"""Expectations: facts about who can call what, where, that must hold for an environment.

``envs/<env>/expectations.yaml`` lists them; the JSON Schema ships as
``regionguard/data/expectations.schema.json``. Each fact names accounts,
actions and Regions (or the shorthands all / permitted / not_permitted and
allowed / not_allowed) and whether SCPs must allow or deny every such call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from regionguard.errors import InputError
from regionguard.evaluator import Decision, Evaluator, Request
from regionguard.scenario import UNSPECIFIED, Scenario, commercial_regions
from regionguard.yamlfile import read_yaml, schema_message

EXPECTATIONS_FILE = "expectations.yaml"
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


def _schema() -> dict[str, Any]:
    text = resources.files("regionguard.data").joinpath("expectations.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_expectations(path: Path) -> tuple[Expectation, ...]:
    """Read and validate an expectations file; InputError names the file, entry and fix."""
    data = read_yaml(
        path,
        missing="no expectations file; write one (schema: "
        "regionguard/data/expectations.schema.json)",
        kind="expectations file",
    )
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for error in errors:
            where = "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
            ).lstrip(".")
            lines.append(f"{path}: {where or 'top level'}: {schema_message(error)}")
        raise InputError("\n".join(lines))
    out = []
    for index, raw in enumerate(data["expectations"]):
        accounts = raw["accounts"] if isinstance(raw["accounts"], str) else tuple(raw["accounts"])
        regions = raw["regions"] if isinstance(raw["regions"], str) else tuple(raw["regions"])
        out.append(
            Expectation(
                index,
                raw["fact"],
                accounts,
                tuple(raw["actions"]),
                regions,
                raw["expect"],
                raw.get("principal_arn"),
                raw.get("inference_profile"),
                raw.get("denied_by"),
            )
        )
    return tuple(out)


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
            known = ", ".join(sorted(by_name)) or "none"
            raise InputError(
                f"{where}: {exp.label()}: account {item!r} is not in the registry; "
                f"use a registry name or id (known: {known})"
            )
    return tuple(out)


def resolve_regions(exp: Expectation, scenario: Scenario) -> tuple[str, ...]:
    if exp.regions == "allowed":
        return scenario.allowed_regions
    if exp.regions == "not_allowed":
        allowed = set(scenario.allowed_regions)
        return (*(r for r in commercial_regions() if r not in allowed), UNSPECIFIED)
    return tuple(exp.regions)


def _principal(template: str | None, account_id: str) -> str | None:
    if template is None:
        return None
    return _ACCOUNT_IN_ARN.sub(rf"\g<1>{account_id}\g<2>", template)


def check(
    expectations: Sequence[Expectation], scenario: Scenario, where: str
) -> tuple[Outcome, ...]:
    """Evaluate every call each fact covers; a fact holds when no call breaks it."""
    evaluator = Evaluator(scenario.org)
    known = {a.account_id for a in scenario.org.accounts}
    outcomes = []
    for exp in expectations:
        accounts = resolve_accounts(exp, scenario, where)
        regions = resolve_regions(exp, scenario)
        breaches = []
        calls = 0
        for account_id in accounts:
            if account_id not in known:
                raise InputError(
                    f"{where}: {exp.label()}: account {account_id} is not in the organization "
                    f"({scenario.source})"
                )
            for action in exp.actions:
                for region in regions:
                    calls += 1
                    request = Request(
                        account_id,
                        action,
                        region,
                        principal_arn=_principal(exp.principal_arn, account_id),
                        inference_profile_arn=exp.inference_profile,
                    )
                    decision = evaluator.evaluate(request)
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
