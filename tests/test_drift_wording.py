"""Drift names what changed outside Terraform: accounts, Regions, parameters, OUs by name."""

from __future__ import annotations

import json
from typing import Any

from regionguard.render import jsonencode
from regionguard.schedule import describe_drift

NAMES = {"100000000001": "ml-platform", "100000000003": "research"}
OUS = {"ou-ab12-cdefgh34": "Workloads"}


def _scp(accounts: list[str], regions: list[str]) -> dict[str, Any]:
    statement = {
        "Action": ["bedrock:InvokeModel"],
        "Condition": {
            "StringNotEquals": {"aws:PrincipalAccount": accounts, "aws:RequestedRegion": regions}
        },
        "Effect": "Deny",
        "Resource": "*",
        "Sid": "DenyBedrockInferenceExceptAllowRegionSpecificAccounts",
    }
    content = jsonencode({"Statement": [statement], "Version": "2012-10-17"})
    return {"name": "bedrock-cross-region-inference", "content": content}


def _drift(kind: str, before: Any, after: Any) -> dict[str, Any]:
    return {"address": f"x.{kind}.this", "type": kind, "change": {"before": before, "after": after}}


def test_an_scp_changed_out_of_band_names_the_accounts_and_regions() -> None:
    item = _drift(
        "aws_organizations_policy",
        _scp(["100000000001"], ["us-east-1"]),
        _scp(["100000000001", "100000000003", "999999999999"], ["us-east-1", "eu-west-1"]),
    )
    assert describe_drift(item, OUS, NAMES) == (
        "2 accounts newly permitted: 100000000003 (research), 999999999999; "
        "Regions allowed besides: eu-west-1"
    )
    back = _drift("aws_organizations_policy", item["change"]["after"], item["change"]["before"])
    assert describe_drift(back, OUS, NAMES) == (
        "2 accounts no longer permitted: 100000000003 (research), 999999999999; "
        "Regions no longer allowed: eu-west-1"
    )


def test_a_detached_scp_names_the_ou() -> None:
    item = _drift(
        "aws_organizations_policy_attachment",
        {"policy_id": "p-1", "target_id": "ou-ab12-cdefgh34"},
        None,
    )
    assert describe_drift(item, OUS, NAMES) == (
        "the attachment was removed (from Workloads (ou-ab12-cdefgh34))"
    )


def test_control_parameters_changed_out_of_band_are_named() -> None:
    def control(regions: list[str], actions: list[str]) -> dict[str, Any]:
        return {
            "parameters": [
                {"key": "AllowedRegions", "value": json.dumps(regions)},
                {"key": "ExemptedActions", "value": json.dumps(actions)},
            ]
        }

    item = _drift(
        "aws_controltower_control",
        control(["us-east-1"], ["bedrock:InvokeModel"]),
        control(["us-east-1", "us-west-2"], []),
    )
    assert describe_drift(item, OUS, NAMES) == (
        "AllowedRegions gained us-west-2; ExemptedActions lost bedrock:InvokeModel"
    )


ODD = [0, 1.5, True, "", "x", [], ["x"], {"a": 1}]
KINDS = ["aws_organizations_policy", "aws_organizations_policy_attachment"]
KINDS += ["aws_controltower_control"]


def test_values_of_a_shape_the_provider_never_writes_are_described_not_read() -> None:
    """A change, a before or an after of another shape: a plain description, never a crash."""
    said = set()
    for kind in KINDS:
        for odd in ODD:
            item = _drift(kind, {}, {})
            item["change"] = odd
            said.add(describe_drift(item, OUS, NAMES))
            for side in ("before", "after"):
                item = _drift(kind, {"target_id": "ou-ab12-cdefgh34"}, {"parameters": []})
                item["change"][side] = odd
                said.add(describe_drift(item, OUS, NAMES))
            for key in ("content", "name", "target_id", "parameters"):
                item = _drift(kind, _scp([], ["us-east-1"]), {**_scp([], ["us-east-1"]), key: odd})
                said.add(describe_drift(item, OUS, NAMES))
    assert "its attributes changed" in said
    assert all(isinstance(text, str) and text for text in said)
