"""Findings: what a check reports, in one shape for text, JSON, markdown and SARIF."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Level = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Finding:
    """One problem (error), risk (warning) or remark (note) found by a check.

    ``rule_id`` is stable (e.g. ``RG-SCP-SIZE``) so that CI annotations and
    SARIF results can be tracked across runs; ``file`` is relative to the
    repository root when known; ``entry`` names the registry entry, setting or
    resource concerned, in the user's terms.
    """

    rule_id: str
    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    entry: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def has_errors(findings: list[Finding] | tuple[Finding, ...]) -> bool:
    return any(f.level == "error" for f in findings)
