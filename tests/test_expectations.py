from __future__ import annotations

from regionguard.evaluator import AccountPath, OrgTree
from regionguard.expectations import Expectation, resolve_accounts
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
