"""CKV_RG_9: the Region deny control exempts approved Bedrock inference actions only."""

from __future__ import annotations

from typing import Any

from _rg_common import (
    APPROVED_EXEMPTED_ACTIONS,
    RegionguardCheck,
    control_parameters,
    is_region_deny_control,
)

from regionguard import catalogue


class ControlExemptedActions(RegionguardCheck):
    def __init__(self) -> None:
        super().__init__(
            catalogue.CKV_RG_9,
            ["aws_controltower_control"],
        )

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        if not is_region_deny_control(conf):
            return None
        params = control_parameters(conf, self.graph)
        found = []
        for action in params.get("ExemptedActions", []):
            if "*" in action or "?" in action:
                found.append(
                    f"ExemptedActions {action!r} is a wildcard: it leaves every matching "
                    "action outside the Region deny; name each action"
                )
            elif action.lower() not in {a.lower() for a in APPROVED_EXEMPTED_ACTIONS}:
                found.append(
                    f"ExemptedActions {action!r} is not an approved Bedrock inference action"
                )
        return found


check = ControlExemptedActions()
