"""CKV_RG_5: account ids in SCP conditions have 12 digits."""

from __future__ import annotations

from typing import Any

from _rg_common import ACCOUNT_ID_RE, RegionguardCheck, account_ids, is_scp, policy_document

from regionguard import catalogue


class ScpAccountIds(RegionguardCheck):
    def __init__(self) -> None:
        super().__init__(
            catalogue.CKV_RG_5,
            ["aws_organizations_policy"],
        )

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        if not is_scp(conf):
            return None
        return [
            f"{where}: {value!r} is {len(value)} characters; an AWS account id is 12 digits"
            for where, value in account_ids(policy_document(conf))
            if not ACCOUNT_ID_RE.match(value)
        ]


check = ScpAccountIds()
