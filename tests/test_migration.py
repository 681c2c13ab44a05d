"""The facts of a plan while the landing-zone Region deny is on: which wait for migration step 4.

A real plan of envs/local (tests/fixtures/plans/good/create-all-ous) is
evaluated as the organization will be right after its apply, with the
landing-zone Region deny still on every first-tier OU, and after step 4,
with it off. A fact that holds only after step 4 waits; one broken after step
4 is broken, whatever it is before.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from conftest import copy_local_env, plan_fixture
from regionguard import deployment
from regionguard.controlscp import render_landing_zone_deny
from regionguard.environment import Environment
from regionguard.evaluator import Policy
from regionguard.expectations import staged_from_plan, staged_text, verify_text
from regionguard.orgmodel import LANDING_ZONE_DENY_NAME, LandingZoneDeny
from regionguard.planfile import load_plan

TODAY = datetime.date(2026, 12, 1)
GOVERNED = ("ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2")
# A fact the landing-zone Region deny has nothing to do with: broken before and after step 4.
BROKEN_FACT = """\
  - fact: payments can invoke Bedrock in us-east-2
    accounts: [payments]
    actions: [bedrock:InvokeModel]
    regions: [us-east-2]
    expect: allow
"""


def _setup(tmp_path: Path, *, broken: bool = False) -> tuple[Environment, LandingZoneDeny]:
    env_dir = copy_local_env(tmp_path)
    if broken:
        path = env_dir / "expectations.yaml"
        path.write_text(path.read_text() + BROKEN_FACT)
    env = Environment(env_dir, TODAY)
    plan = load_plan(plan_fixture("create-all-ous") / "plan.json")
    first_tier = {o.ou.id: o.ou.name for o in deployment.from_plan(plan).ous if o.ou.id}
    deny = Policy(LANDING_ZONE_DENY_NAME, render_landing_zone_deny(GOVERNED), "p-lzdeny01")
    state = LandingZoneDeny(
        {i: n or i for i, n in first_tier.items()}, {i: (deny,) for i in first_tier}
    )
    return env, state


def test_facts_that_hold_only_once_the_deny_is_off_wait_for_step_4(tmp_path: Path) -> None:
    env, deny = _setup(tmp_path)
    plan = load_plan(plan_fixture("create-all-ous") / "plan.json")
    staged = staged_from_plan(env, env.expectations_path, plan, deny)
    assert [o.expectation.index for o in staged.waiting] == [1, 2, 3, 5]
    assert staged.broken == ()
    assert staged.runs == [staged.after_step_4]
    text = staged_text(env.expectations_path, staged).splitlines()
    assert text[0] == (
        f"{env.expectations_path}: 3 of 7 facts hold, 4 wait for migration step 4 (turn the "
        f"landing-zone Region deny off), 0 broken; {staged.after_step_4[0].source}, with the "
        "landing-zone Region deny on Sandbox, Security, Workloads"
    )
    waits = [line for line in text if line.startswith("  WAITS")]
    assert waits[0] == (
        '  WAITS   expectations[1] "ml-platform can invoke Bedrock in us-east-2 through a us. '
        'cross-Region profile": 6 of 6 calls are not ALLOW while the landing-zone Region deny '
        "is on; it holds after migration step 4 (turn the landing-zone Region deny off)"
    )
    assert waits[2].startswith(
        '  WAITS   expectations[3] "payments cannot invoke Bedrock in us-east-2": 2 of 2 calls '
        "are not DENY by DenyBedrockInferenceExceptAllowRegionSpecificAccounts while"
    )
    # Each call that waits is denied by the landing-zone Region deny's statement.
    breaches = [o.breaches for o in staged.now[1] if not o.holds] if staged.now else []
    assert all(
        b.decision.statement is not None and b.decision.statement.sid == "GRREGIONDENY"
        for found in breaches
        for b in found
    )


def test_a_fact_broken_after_step_4_is_broken_not_waiting(tmp_path: Path) -> None:
    env, deny = _setup(tmp_path, broken=True)
    plan = load_plan(plan_fixture("create-all-ous") / "plan.json")
    staged = staged_from_plan(env, env.expectations_path, plan, deny)
    assert [o.expectation.index for o in staged.broken] == [7]
    assert [o.expectation.index for o in staged.waiting] == [1, 2, 3, 5]
    text = staged_text(env.expectations_path, staged).splitlines()
    assert "0 broken" not in text[0] and ", 1 broken;" in text[0]
    [line] = [line for line in text if line.startswith("  BROKEN")]
    assert line == (
        '  BROKEN  expectations[7] "payments can invoke Bedrock in us-east-2": 1 of 1 calls '
        "are not ALLOW, also after migration step 4 (turn the landing-zone Region deny off)"
    )


def test_with_the_deny_off_the_facts_read_as_before(tmp_path: Path) -> None:
    env, _deny = _setup(tmp_path)
    plan = load_plan(plan_fixture("create-all-ous") / "plan.json")
    staged = staged_from_plan(env, env.expectations_path, plan, LandingZoneDeny({}, {}))
    assert (staged.now, staged.waiting) == (None, ())
    assert staged_text(env.expectations_path, staged) == verify_text(
        env.expectations_path, staged.runs
    )
    assert (
        verify_text(env.expectations_path, staged.runs)
        .splitlines()[0]
        .startswith(f"{env.expectations_path}: 7 of 7 facts hold, ")
    )


def test_a_deny_that_cannot_be_read_is_assumed_on_every_first_tier_ou(tmp_path: Path) -> None:
    env, _deny = _setup(tmp_path)
    plan = load_plan(plan_fixture("create-all-ous") / "plan.json")
    unreadable = LandingZoneDeny({}, {}, "ListPolicies: AccessDeniedException: not allowed")
    staged = staged_from_plan(env, env.expectations_path, plan, unreadable)
    assert [o.expectation.index for o in staged.waiting] == [1, 2, 3, 5]
    assert (
        staged_text(env.expectations_path, staged)
        .splitlines()[0]
        .endswith(
            "with the landing-zone Region deny on every first-tier OU (assumed: ListPolicies: "
            "AccessDeniedException: not allowed)"
        )
    )
