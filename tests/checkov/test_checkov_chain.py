"""checkov is a stage of the chain: a plan checkov fails is no plan to apply, end to end.

A copy of envs/local exempts and guards bedrock:GetFoundationModel besides
the two inference actions: validate, the gate and the facts of
expectations.yaml pass it (the action exists and the SCP guards it), but
CKV_RG_9 accepts only the Bedrock inference actions. `regionguard review`
(what `make review` runs) against the sandbox, with real terraform and real
checkov: the chain fails, tfplan.sarif carries CKV_RG_9 on each control,
tfplan.md names it, and no gate record is written, so apply refuses.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from regionguard.cli import main
from regionguard.sandbox import process

pytestmark = [pytest.mark.checkov, pytest.mark.sandbox, pytest.mark.terraform]

EXTRA = "bedrock:GetFoundationModel"


def test_a_plan_checkov_fails_fails_the_chain_with_its_ids_in_the_sarif_log(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    local_env_copier: Callable[..., Path],
) -> None:
    env_dir = local_env_copier(tmp_path)
    settings = env_dir / "terraform.tfvars"
    text = settings.read_text()
    old = '"bedrock:InvokeModelWithResponseStream",\n]'
    assert old in text
    settings.write_text(
        text.replace(old, f'"bedrock:InvokeModelWithResponseStream",\n  "{EXTRA}",\n]')
        + "\nguarded_actions = [\n"
        '  "bedrock:InvokeModel",\n  "bedrock:InvokeModelWithResponseStream",\n'
        f'  "{EXTRA}",\n]\n'
    )
    monkeypatch.setenv("REGIONGUARD_ROOT", str(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        code = main(["review", "--env-dir", str(env_dir), "--sandbox-port", str(port)])
        out, err = capsys.readouterr()
    finally:
        process.down(tmp_path / ".sandbox")

    assert code == 1, out + err
    assert f"plan {env_dir}: checkov failed CKV_RG_9 on {env_dir}/tfplan.json" in err
    # The gate and the facts passed: checkov alone failed the plan.
    assert "the plan gate failed" not in err and "does not hold" not in err
    assert not (env_dir / "tfplan.gate.json").exists()
    assert (env_dir / "tfplan").is_file()

    log = json.loads((env_dir / "tfplan.sarif").read_text())
    results = log["runs"][0]["results"]
    checkov = [r for r in results if r["ruleId"].startswith("CKV_")]
    assert len(checkov) == 3
    assert {r["ruleId"] for r in checkov} == {"CKV_RG_9"}
    assert {r["level"] for r in checkov} == {"error"}
    assert {r["locations"][0]["logicalLocations"][0]["name"] for r in checkov} == {
        f'module.region_deny_control.aws_controltower_control.this["{ou}"]'
        for ou in _ou_ids(env_dir)
    }
    assert {r["message"]["text"] for r in checkov} == {
        f"ExemptedActions '{EXTRA}' is not an approved Bedrock inference action"
    }
    assert [r["ruleId"] for r in results if r["level"] == "error"] == ["CKV_RG_9"] * 3
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["CKV_RG_9"]["properties"]["appliedBy"] == ["checkov HCL", "checkov plan"]

    review = (env_dir / "tfplan.md").read_text()
    assert "### Pipeline" in review
    controls = ", ".join(
        f'`module.region_deny_control.aws_controltower_control.this["{ou}"]`'
        for ou in _ou_ids(env_dir)
    )
    assert (
        f"- checkov `CKV_RG_9` failed on 3 resources ({controls}); the first: "
        f"ExemptedActions '{EXTRA}' is not an approved Bedrock inference action\n"
    ) in review.replace("\\_", "_")
    assert "**Failed**: plan " in review

    # apply refuses: no gate record.
    assert main(["apply", "--env-dir", str(env_dir), "--sandbox-port", str(port)]) == 2
    assert "has no gate record" in capsys.readouterr().err


def _ou_ids(env_dir: Path) -> list[str]:
    plan = json.loads((env_dir / "tfplan.json").read_text())
    return [
        rc["index"]
        for rc in plan["resource_changes"]
        if rc["type"] == "aws_controltower_control" and rc["change"]["actions"] == ["create"]
    ]
