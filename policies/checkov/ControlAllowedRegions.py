"""CKV_RG_8: the Region deny control names at least one allowed Region, each a Region code."""

from __future__ import annotations

from typing import Any

from _rg_common import REGION_RE, RegionguardCheck, control_parameters, is_region_deny_control

from regionguard import catalogue


class ControlAllowedRegions(RegionguardCheck):
    def __init__(self) -> None:
        super().__init__(
            catalogue.CKV_RG_8,
            ["aws_controltower_control"],
        )

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        if not is_region_deny_control(conf):
            return None
        params = control_parameters(conf, self.graph)
        regions = params.get("AllowedRegions", [])
        if not regions:
            return ["AllowedRegions is missing or empty; name at least the home Region"]
        bad = [r for r in regions if not REGION_RE.match(r)]
        if bad:
            return [f"AllowedRegions {bad} are not Region codes such as us-east-1"]
        return []


check = ControlAllowedRegions()
