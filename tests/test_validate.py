from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from regionguard.cli import main
from regionguard.findings import Finding
from regionguard.validation import validate_documents

REGIONS = ["ap-northeast-1", "us-east-1"]
PARAMS = {
    "AllowedRegions": json.dumps(REGIONS),
    "ExemptedActions": json.dumps(["bedrock:InvokeModel"]),
}


def scp(statement: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def guard(**extra: object) -> dict[str, object]:
    return {
        "Sid": "Guard",
        "Effect": "Deny",
        "Action": ["bedrock:InvokeModel"],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": REGIONS}},
        **extra,
    }


def errors(findings: list[Finding]) -> list[tuple[str, str | None, str]]:
    return [(f.rule_id, f.entry, f.message) for f in findings if f.level == "error"]


def test_sound_documents_give_only_notes() -> None:
    findings = validate_documents(scp(guard()), PARAMS, home_region="ap-northeast-1")
    assert [(f.rule_id, f.level) for f in findings] == [
        ("RG-SCP-SIZE", "note"),
        ("RG-CTRL-SCP-SIZE", "note"),
    ]


def test_parameters_may_be_decoded_lists() -> None:
    decoded = {"AllowedRegions": REGIONS, "ExemptedActions": ["bedrock:InvokeModel"]}
    assert validate_documents(scp(guard()), decoded, home_region=None) == validate_documents(
        scp(guard()), PARAMS, home_region=None
    )


def test_principal_in_an_scp_is_refused() -> None:
    findings = validate_documents(scp(guard(Principal="*")), PARAMS, home_region=None)
    assert errors(findings) == [
        (
            "RG-SCP-GRAMMAR",
            "Statement[0]",
            "Statement[0]: an SCP may not name a Principal or NotPrincipal",
        )
    ]


def test_empty_condition_value_list_is_refused() -> None:
    statement = guard(
        Condition={"StringNotEquals": {"aws:RequestedRegion": REGIONS, "aws:PrincipalAccount": []}}
    )
    findings = validate_documents(scp(statement), PARAMS, home_region=None)
    assert errors(findings) == [
        (
            "RG-SCP-GRAMMAR",
            "Statement[0].Condition.StringNotEquals.aws:PrincipalAccount",
            "Statement[0].Condition.StringNotEquals.aws:PrincipalAccount: an empty list is not "
            "valid policy grammar; leave the key out",
        )
    ]


def test_unknown_condition_operator_is_refused() -> None:
    statement = guard(Condition={"StringNotEqual": {"aws:RequestedRegion": REGIONS}})
    rules = [f.rule_id for f in validate_documents(scp(statement), PARAMS, home_region=None)]
    assert rules.count("RG-SCP-GRAMMAR") == 1


def test_document_that_is_not_json_is_reported() -> None:
    findings = validate_documents('{"Version": ', PARAMS, home_region=None)
    assert [f.rule_id for f in findings if f.level == "error"] == ["RG-SCP-JSON"]


def test_parameter_casing_matters() -> None:
    params = {**PARAMS, "ExemptedPrincipalARNs": json.dumps(["arn:aws:iam::*:role/Admin"])}
    assert errors(validate_documents(scp(guard()), params, home_region=None)) == [
        (
            "RG-CTRL-PARAMETER",
            "ExemptedPrincipalARNs",
            "unknown parameter 'ExemptedPrincipalARNs'; did you mean 'ExemptedPrincipalArns'? "
            "(the casing matters)",
        )
    ]


def test_scp_allowing_a_region_the_control_denies_is_an_error() -> None:
    statement = guard(
        Condition={"StringNotEquals": {"aws:RequestedRegion": [*REGIONS, "us-west-2"]}}
    )
    assert errors(validate_documents(scp(statement), PARAMS, home_region=None)) == [
        (
            "RG-SCP-REGIONS",
            "Statement[0]",
            "the SCP allows us-west-2, which AllowedRegions does not: exempted actions are open "
            "there to every account",
        )
    ]


def test_wildcard_guard_covers_a_named_exemption() -> None:
    statement = guard(Action="bedrock:Invoke*")
    assert errors(validate_documents(scp(statement), PARAMS, home_region=None)) == []


def test_exemption_guarded_only_without_a_region_gate_is_open() -> None:
    statement = guard(Condition={"StringEquals": {"aws:RequestedRegion": "unspecified"}})
    assert [f.rule_id for f in validate_documents(scp(statement), PARAMS, home_region=None)] == [
        "RG-CTRL-UNGUARDED",
        "RG-SCP-SIZE",
        "RG-CTRL-SCP-SIZE",
    ]


def test_size_note_counts_the_exact_characters_and_the_room_left() -> None:
    content = scp(guard())
    (size,) = [
        f
        for f in validate_documents(content, PARAMS, home_region=None)
        if f.rule_id == "RG-SCP-SIZE"
    ]
    left = 10_240 - len(content)
    assert size.message == (
        f"the SCP is {len(content):,} of 10,240 characters: {left:,} characters left: "
        f"room for about {(left - 40) // 15 + 1:,} more accounts"
    )


def test_size_limit_is_a_parameter() -> None:
    content = scp(guard())
    findings = validate_documents(content, PARAMS, home_region=None, size_limit=len(content))
    (size,) = [f for f in findings if f.rule_id == "RG-SCP-SIZE"]
    assert (size.level, size.message) == (
        "warning",
        f"the SCP is {len(content):,} of {len(content):,} characters: 0 characters left: "
        "room for about 0 more accounts",
    )


def test_compiled_and_reference_scp_grammars_agree() -> None:
    from regionguard.schemas import fast_check, validator

    documents = [
        json.loads(scp(guard())),
        json.loads(scp(guard(Principal="*"))),
        json.loads(scp(guard(Action=[]))),
        json.loads(scp(guard(Condition={"StringNotEqual": {"aws:RequestedRegion": REGIONS}}))),
        json.loads(scp(guard(Effect="Allow", Action="*"))),
        {"Version": "2012-10-17", "Statement": []},
    ]
    verdicts = []
    for document in documents:
        try:
            fast_check("scp")(document)
            fast = True
        except Exception:
            fast = False
        verdicts.append((fast, validator("scp").is_valid(document)))
    assert verdicts == [
        (True, True),
        (False, False),
        (False, False),
        (False, False),
        (True, True),
        (False, False),
    ]


def test_validate_reports_findings_as_sarif_for_code_scanning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = Path(__file__).parent / "fixtures" / "settings" / "bad" / "exemption-not-guarded"
    shutil.copytree(case, tmp_path / "env", ignore=shutil.ignore_patterns("case.json"))
    monkeypatch.chdir(tmp_path / "env")

    code = main(["validate", "--env-dir", ".", "--today", "2026-11-27", "--format", "sarif"])
    out, _ = capsys.readouterr()

    assert code == 1
    run = json.loads(out)["runs"][0]
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [
        ("RG-CTRL-UNGUARDED", "error"),
        ("RG-SCP-SIZE", "note"),
        ("RG-CTRL-SCP-SIZE", "note"),
    ]
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "terraform.tfvars"}
