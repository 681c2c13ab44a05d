"""CKV_RG_7: a control carrying Region deny parameters is CT.MULTISERVICE.PV.1.

The opaque control id is a setting (see modules/region-deny-control): the
accepted ids are the module's default plus REGIONGUARD_CONTROL_IDENTIFIERS.
When the identifier is a variable checkov cannot follow (the environments pass
null so that the module's default applies), the check reports UNKNOWN: the
module validates the ARN shape and the plan, scanned by ``make check`` when it
exists, carries the resolved value.
"""

from __future__ import annotations

from typing import Any

from _rg_common import (
    CONTROL_PARAMETER_INPUTS,
    RegionguardCheck,
    control_identifiers,
    looks_unresolved,
    unwrap,
)

from regionguard import catalogue


class ControlIdentifier(RegionguardCheck):
    def __init__(self) -> None:
        super().__init__(
            catalogue.CKV_RG_7,
            ["aws_controltower_control"],
        )

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        identifier = unwrap(conf.get("control_identifier"))
        if not isinstance(identifier, str) or looks_unresolved(identifier):
            return None
        if identifier in control_identifiers():
            return []
        blocks = conf.get("parameters") or []
        keys = {str(unwrap(b.get("key"))) for b in blocks if isinstance(b, dict)}
        if (
            keys
            and not keys & set(CONTROL_PARAMETER_INPUTS)
            and not any(looks_unresolved(k) for k in keys)
        ):
            return None  # another control, with parameters of its own
        return [
            f"control_identifier {identifier!r} is not a known identifier of "
            "CT.MULTISERVICE.PV.1; look it up with `aws controlcatalog list-controls` "
            "and add it to REGIONGUARD_CONTROL_IDENTIFIERS"
        ]


check = ControlIdentifier()
