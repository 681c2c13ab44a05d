"""CKV_RG_2: every SCP statement applies to Resource "*"."""

from __future__ import annotations

from typing import Any

from _rg_common import RegionguardCheck, finish, is_scp, policy_document, statement_name, strings

from regionguard import catalogue


class ScpResourceAll(RegionguardCheck):
    def __init__(self) -> None:
        super().__init__(
            catalogue.CKV_RG_2,
            ["aws_organizations_policy"],
        )

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        if not is_scp(conf):
            return None
        found = []
        for index, statement in enumerate(policy_document(conf)["Statement"]):
            name = statement_name(statement, index)
            if "NotResource" in statement:
                found.append(f'{name} uses NotResource; use Resource "*"')
                continue
            resources = strings(finish(statement.get("Resource")), f"{name} Resource")
            if resources != ["*"]:
                found.append(f'{name} has Resource {resources}; it must be "*"')
        return found


check = ScpResourceAll()
