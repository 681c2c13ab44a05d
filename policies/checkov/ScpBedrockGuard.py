"""CKV_RG_4: Bedrock inference is denied outside the allowed Regions but for permitted accounts.

A guard statement is a Deny on Resource "*" for the action whose Condition is
exactly ``StringNotEquals`` with ``aws:RequestedRegion`` (Region codes) and,
optionally, ``aws:PrincipalAccount`` (the permitted accounts). Without the
account key the Deny applies to every account, which is stricter and what the
module renders when no account is permitted. Any other operator or key in the
guard's Condition is ANDed in and narrows the Deny, so it is refused. Further
Deny statements on the same actions (global inference profiles, inference
profile requirement) only restrict and are allowed.
"""

from __future__ import annotations

from typing import Any

from _rg_common import (
    APPROVED_EXEMPTED_ACTIONS,
    RegionguardCheck,
    denied_actions,
    guard_problems,
    is_scp,
    policy_document,
    statement_name,
)

from regionguard import catalogue


class ScpBedrockGuard(RegionguardCheck):
    def __init__(self) -> None:
        super().__init__(
            catalogue.CKV_RG_4,
            ["aws_organizations_policy"],
        )

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        if not is_scp(conf):
            return None
        document = policy_document(conf)
        mentioned: set[str] = set()
        guarded: set[str] = set()
        reasons: dict[str, list[str]] = {}
        for index, statement in enumerate(document["Statement"]):
            name = statement_name(statement, index)
            if statement.get("Effect") != "Deny":
                continue
            actions = denied_actions(statement, APPROVED_EXEMPTED_ACTIONS, name)
            if not actions:
                continue
            mentioned.update(actions)
            problems = guard_problems(statement, name)
            if problems:
                reasons[name] = problems
            else:
                guarded.update(actions)
        found = []
        for action in APPROVED_EXEMPTED_ACTIONS:
            if action in mentioned and action not in guarded:
                why = "; ".join(f"{n}: {', '.join(p)}" for n, p in reasons.items())
                found.append(f"{action} has no guard statement ({why})")
        return found


check = ScpBedrockGuard()
