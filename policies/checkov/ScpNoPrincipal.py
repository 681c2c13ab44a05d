"""CKV_RG_3: SCPs may not name principals."""

from __future__ import annotations

from typing import Any

from _rg_common import RegionguardCheck, is_scp, policy_document, statement_name

from regionguard import catalogue


class ScpNoPrincipal(RegionguardCheck):
    def __init__(self) -> None:
        super().__init__(
            catalogue.CKV_RG_3,
            ["aws_organizations_policy"],
        )

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        if not is_scp(conf):
            return None
        return [
            f"{statement_name(s, i)} has {key}; an SCP cannot name principals, "
            "use the aws:PrincipalAccount or aws:PrincipalARN condition keys"
            for i, s in enumerate(policy_document(conf)["Statement"])
            for key in ("Principal", "NotPrincipal")
            if key in s
        ]


check = ScpNoPrincipal()
