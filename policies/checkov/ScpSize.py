"""CKV_RG_6: the SCP fits the environment's scp_size_limit (``_rg_common.scp_size_limit``)."""

from __future__ import annotations

from typing import Any

from _rg_common import (
    RegionguardCheck,
    finish,
    is_scp,
    minified_length,
    policy_document,
    scp_size_limit,
    unwrap,
)

from regionguard import catalogue


class ScpSize(RegionguardCheck):
    def __init__(self) -> None:
        super().__init__(catalogue.CKV_RG_6, ["aws_organizations_policy"])

    def problems(self, conf: dict[str, Any]) -> list[str] | None:
        if not is_scp(conf):
            return None
        document = policy_document(conf)
        raw = unwrap(conf.get("content"))
        length = minified_length(document, raw if isinstance(raw, str) else finish(raw))
        limit = scp_size_limit(conf, self.graph, self.entity_path)
        if length > limit:
            return [f"the document is {length} characters; the limit is {limit}"]
        return []


check = ScpSize()
