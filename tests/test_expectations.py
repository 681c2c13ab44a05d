from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.evaluator import AccountPath, Evaluator, OrgTree
from regionguard.expectations import (
    Breach,
    Expectation,
    Outcome,
    _breaks,
    _principal,
    check,
    load_expectations,
    resolve_accounts,
    resolve_regions,
)
from regionguard.orgmodel import Scenario, scenario_from_env
from regionguard.request import build_request, decide, load_profile_data, resolve_action

REPO = Path(__file__).resolve().parent.parent


def _scenario() -> Scenario:
    accounts = tuple(
        AccountPath(account_id, name, ())
        for account_id, name in (
            ("111111111111", "management"),
            ("100000000001", "ml-platform"),
            ("100000000002", "payments"),
        )
    )
    return Scenario(
        OrgTree(accounts, "111111111111"),
        "test organization",
        {a.account_id: a.name for a in accounts},
        ("100000000001",),
        ("us-east-1",),
        ("bedrock:InvokeModel",),
    )


def _expectation(accounts: str | tuple[str, ...]) -> Expectation:
    return Expectation(0, "fact", accounts, ("bedrock:InvokeModel",), "allowed", "deny")


def test_shorthands_leave_out_the_management_account_that_scps_never_affect() -> None:
    scenario = _scenario()
    assert resolve_accounts(_expectation("all"), scenario, "x") == (
        "100000000001",
        "100000000002",
    )
    assert resolve_accounts(_expectation("not_permitted"), scenario, "x") == ("100000000002",)
    assert resolve_accounts(_expectation("permitted"), scenario, "x") == ("100000000001",)


def test_the_management_account_can_still_be_named_explicitly() -> None:
    scenario = _scenario()
    assert resolve_accounts(_expectation(("management",)), scenario, "x") == ("111111111111",)


# ---------------------------------------------------------------- facts checked as requests
# A fact naming a Region, action, principal or profile that no request can have is a bad
# file (exit 2), so it cannot hold vacuously (docs/scp-evaluation.md, "The request model").

FACT = (
    "expectations:\n  - fact: f\n    accounts: all\n    actions: [{action}]\n"
    "    regions: [{region}]\n    expect: deny\n{extra}"
)


@pytest.mark.parametrize(
    ("action", "region", "extra", "message"),
    [
        ("bedrock:InvokeModel", "us-east-9", "", "Region 'us-east-9' is not a Region of the aws"),
        ("bedrock:InvokeModel", "cn-north-1", "", "Region 'cn-north-1' is in the aws-cn partition"),
        ("bedrock:InvokeModel", "us-gov-west-1", "", "is in the aws-us-gov partition"),
        ("bedrock:InvokeModel", "Us-East-2", "", "Region codes are lower case; did you mean"),
        ("bedrock:InvokeModell", "us-east-2", "", "did you mean bedrock:InvokeModel"),
        ("bedrock:*", "us-east-2", "", "a request has one concrete action, not a pattern"),
        (
            "bedrock:InvokeModel",
            "eu-west-2",
            "    inference_profile: us.anthropic.claude-sonnet-4-5-20250929-v1:0\n",
            "inference profile 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' is called from "
            "ca-central-1, us-east-1, us-east-2, us-west-1, us-west-2 (AWS's table",
        ),
        (
            "bedrock:InvokeModel",
            "us-east-2",
            "    inference_profile: zz.anthropic.claude\n",
            "unknown geography prefix 'zz.'",
        ),
        (
            "bedrock:InvokeModel",
            "us-east-2",
            "    principal_arn: arn:aws:iam::100000000001:group/admins\n",
            "an IAM principal is a role, a user or the root user, not 'group'",
        ),
        (
            "bedrock:InvokeModel",
            "us-east-2",
            "    principal_arn: arn:aws:iam::100000000001:role/R\n    role_path: /x/\n",
            "has the path /, but --role-path is /x/",
        ),
    ],
)
def test_a_fact_no_request_can_have_is_a_bad_file(
    tmp_path: Path, action: str, region: str, extra: str, message: str
) -> None:
    path = tmp_path / "expectations.yaml"
    path.write_text(FACT.format(action=action, region=region, extra=extra))
    with pytest.raises(InputError) as info:
        load_expectations(path)
    assert str(info.value).startswith(f'{path}: expectations[0] "f": ')
    assert message in str(info.value)
    assert info.value.exit_code == 2


def test_a_fact_may_name_converse_and_a_profile_by_id(tmp_path: Path) -> None:
    path = tmp_path / "expectations.yaml"
    path.write_text(
        FACT.format(
            action="bedrock:ConverseStream",
            region="us-west-2",
            extra="    inference_profile: us.anthropic.claude-sonnet-4-5-20250929-v1:0\n",
        )
    )
    (fact,) = load_expectations(path)
    assert fact.actions == ("bedrock:ConverseStream",)
    assert fact.profile is not None
    assert (fact.profile.geography.prefix, fact.profile.model_id) == (
        "us",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
    )


# ---------------------------------------------------------------- the matrix binds to each call
# check() decides a fact of direct calls by default principals through
# Evaluator.matrix; here every call of every fact goes through build_request
# and decide, as explain asks it, and the outcomes must be the same, breach
# for breach and decision for decision.

# {accounts}: two names of the registry, the management account when the
# registry names it, and the first name again.
BOUND_FACTS = """\
expectations:
  - fact: every call outside the allowed Regions is denied
    accounts: all
    actions: [bedrock:InvokeModel, bedrock:Converse, ec2:RunInstances, iam:CreateRole,
              s3:ListAllMyBuckets, sts:GetCallerIdentity]
    regions: not_allowed
    expect: deny
  - fact: named accounts and the management account may call in three Regions
    accounts: {accounts}
    actions: [bedrock:InvokeModelWithResponseStream, bedrock:ConverseStream, ec2:RunInstances]
    regions: [us-east-1, us-east-2, eu-west-1]
    expect: allow
  - fact: permitted accounts are denied by the Bedrock SCP in the allowed Regions
    accounts: permitted
    actions: [bedrock:InvokeModel]
    regions: allowed
    expect: deny
    denied_by: DenyBedrockInferenceExceptAllowRegionSpecificAccounts
  - fact: accounts not permitted may use global profiles
    accounts: not_permitted
    actions: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]
    regions: [unspecified]
    expect: allow
  - fact: a role of each account is denied outside the allowed Regions
    accounts: all
    actions: [bedrock:InvokeModel]
    regions: not_allowed
    principal_arn: arn:aws:iam::111111111111:role/data/Analyst
    expect: deny
"""


def _call_by_call(
    expectations: Sequence[Expectation], scenario: Scenario, env_dir: Path
) -> tuple[Outcome, ...]:
    evaluator = Evaluator(scenario.org)
    profile_data = load_profile_data(env_dir)
    outcomes = []
    for exp in expectations:
        breaches = []
        calls = 0
        for account_id in resolve_accounts(exp, scenario, "x"):
            for action in exp.actions:
                for region in resolve_regions(exp, scenario, resolve_action(action)):
                    calls += 1
                    request = build_request(
                        account_id,
                        action,
                        region,
                        principal_arn=_principal(exp.principal_arn, account_id),
                        role_path=exp.role_path,
                        inference_profile=exp.profile.profile_id if exp.profile else None,
                        profile_data=profile_data,
                    )
                    decision = decide(evaluator, request).decision
                    if _breaks(exp, decision):
                        breaches.append(Breach(account_id, action, region, decision))
        outcomes.append(Outcome(exp, calls, tuple(breaches)))
    return tuple(outcomes)


@pytest.mark.parametrize("deny", [False, True], ids=["deny-off", "landing-zone-deny-on"])
@pytest.mark.parametrize("name", ["local", "staging", "prod"])
def test_the_matrix_decides_each_fact_as_each_call_would(
    tmp_path: Path, name: str, deny: bool
) -> None:
    env_dir = REPO / "envs" / name
    env = Environment(env_dir, datetime.date(2026, 12, 7))
    scenario = scenario_from_env(env, landing_zone_deny=deny)
    facts = tmp_path / "facts.yaml"
    names = sorted(scenario.account_names.values())[:2]
    management = scenario.org.management_account_id
    named = [*names, *([management] if management in scenario.account_names else []), names[0]]
    facts.write_text(BOUND_FACTS.replace("{accounts}", json.dumps(named)))
    for path in (env.expectations_path, facts):
        expectations = load_expectations(path, env_dir)
        got = check(expectations, scenario, str(path), env_dir)
        want = _call_by_call(expectations, scenario, env_dir)
        assert got == want, path
    # The facts above break: the comparison covers breaches and their decisions.
    assert sum(len(o.breaches) for o in got) > 0
    assert {o.expectation.index for o in got if o.breaches} >= {0, 2}
