"""Findings as a SARIF 2.1.0 log, so that code scanning shows them on the pull request.

Each rule's metadata (title, default level, who applies it, its page) comes
from :mod:`regionguard.catalogue`; a rule the catalogue does not hold (a
built-in checkov check that started to apply after a checkov upgrade) is
still reported, with its id as its name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from regionguard import __version__, catalogue
from regionguard.findings import Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/regionguard/regionguard"


def _location(finding: Finding) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": finding.file}}
    if finding.line:
        physical["region"] = {"startLine": finding.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.entry:
        location["logicalLocations"] = [{"name": finding.entry}]
    return location


def _rule(finding: Finding) -> dict[str, Any]:
    """A reportingDescriptor: the catalogue's rule, or the finding's own id and level."""
    rule = catalogue.by_id(finding.rule_id)
    if rule is None:
        return {
            "id": finding.rule_id,
            "name": finding.rule_id,
            "shortDescription": {"text": finding.rule_id},
            "defaultConfiguration": {"level": finding.level},
        }
    full = f"{rule.title.rstrip('.')}. {rule.detail}".strip()
    return {
        "id": rule.id,
        "name": rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": full.replace("`", ""), "markdown": full},
        "defaultConfiguration": {"level": rule.level},
        "help": {"text": f"See {rule.doc}.", "markdown": f"See `{rule.doc}`."},
        "properties": {"appliedBy": list(rule.tools), "levels": list(rule.levels)},
    }


def to_sarif(findings: Sequence[Finding], tool_version: str = __version__) -> dict[str, Any]:
    """One SARIF run of tool ``regionguard``: a rule per distinct rule id, a result per finding.

    Rules come in order of first appearance, with the catalogue's metadata.

    Locations are given when the finding names a file (and a region when it
    names a line); a finding about a setting with no file keeps only its
    message and, when known, its entry as a logical location.
    """
    rule_index: dict[str, int] = {}
    rules: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for finding in findings:
        if finding.rule_id not in rule_index:
            rule_index[finding.rule_id] = len(rules)
            rules.append(_rule(finding))
        result: dict[str, Any] = {
            "ruleId": finding.rule_id,
            "ruleIndex": rule_index[finding.rule_id],
            "level": finding.level,
            "message": {"text": finding.message},
        }
        if finding.file:
            result["locations"] = [_location(finding)]
        elif finding.entry:
            result["locations"] = [{"logicalLocations": [{"name": finding.entry}]}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "regionguard",
                        "version": tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def dumps(findings: Sequence[Finding]) -> str:
    """The SARIF log as indented JSON text, ending with a newline."""
    return json.dumps(to_sarif(findings), indent=2, sort_keys=False) + "\n"
