"""CKV_RG_1: an SCP managed here only denies."""

from __future__ import annotations

from typing import Any

from _rg_common import RegionguardCheck, is_scp, policy_document, statement_name

from regionguard import catalogue


class ScpDenyOnly(RegionguardCheck):
    def __init__(self) -> None:
        super().__init__(
            catalogue.CKV_RG_1,
            ["aws_organizations_policy"],
        )

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        if not is_scp(conf):
            return None
        document = policy_document(conf)
        return [
            f'{statement_name(s, i)} has Effect {s.get("Effect")!r}; only "Deny" is allowed'
            for i, s in enumerate(document["Statement"])
            if s.get("Effect") != "Deny"
        ]


check = ScpDenyOnly()
