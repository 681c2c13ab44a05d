from __future__ import annotations

from pathlib import Path

import pytest

from regionguard.errors import InputError
from regionguard.evaluator import AccountPath, OrgTree
from regionguard.expectations import Expectation, load_expectations, resolve_accounts
from regionguard.orgmodel import Scenario


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
