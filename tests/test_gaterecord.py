"""plan-gate writes the review and the verdict beside the saved plan; apply-guard enforces it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from regionguard.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "plans"
PASSING = FIXTURES / "create-all-ous"
FAILING = FIXTURES / "home-region-not-allowed"


def saved_plan(env_dir: Path, fixture: Path) -> None:
    """An environment folder with a saved plan, its JSON (written after it) and the registry."""
    shutil.copyfile(fixture / "accounts.yaml", env_dir / "accounts.yaml")
    (env_dir / "terraform.tfvars").write_text('home_region = "ap-northeast-1"\n')
    (env_dir / "accounts.auto.tfvars.json").write_text("{}\n")
    for name in ("accounts.yaml", "terraform.tfvars", "accounts.auto.tfvars.json"):
        os.utime(env_dir / name, ns=(1_000_000_000, 1_000_000_000))
    (env_dir / "tfplan").write_bytes(b"binary plan " + fixture.name.encode())
    os.utime(env_dir / "tfplan", ns=(2_000_000_000, 2_000_000_000))
    shutil.copyfile(fixture / "plan.json", env_dir / "tfplan.json")


def gate(env_dir: Path) -> int:
    return main(["plan-gate", "--env-dir", str(env_dir)])


def guard(env_dir: Path) -> int:
    return main(["apply-guard", "--env-dir", str(env_dir)])


def test_plan_gate_writes_the_markdown_review_beside_the_plan(tmp_path: Path) -> None:
    saved_plan(tmp_path, PASSING)
    assert gate(tmp_path) == 0
    assert (tmp_path / "tfplan.md").read_text() == (PASSING / "expected.md").read_text()


def test_plan_gate_records_the_verdict_bound_to_the_saved_plan(tmp_path: Path) -> None:
    saved_plan(tmp_path, FAILING)
    assert gate(tmp_path) == 1
    record = json.loads((tmp_path / "tfplan.gate.json").read_text())
    assert (record["passed"], record["plan"], [r["rule_id"] for r in record["reasons"]]) == (
        False,
        "tfplan",
        ["RG-PLAN-HOME-REGION", "RG-SCP-REGIONS"],
    )


def test_plan_gate_refuses_json_older_than_the_saved_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved_plan(tmp_path, PASSING)
    os.utime(tmp_path / "tfplan.json", ns=(1_500_000_000, 1_500_000_000))
    assert gate(tmp_path) == 2
    assert "tfplan.json is older than" in capsys.readouterr().err


def test_plan_gate_removes_an_earlier_verdict_before_checking(tmp_path: Path) -> None:
    saved_plan(tmp_path, PASSING)
    assert gate(tmp_path) == 0
    (tmp_path / "tfplan.json").unlink()
    assert gate(tmp_path) == 2
    assert not (tmp_path / "tfplan.gate.json").exists()


def test_apply_guard_accepts_a_plan_that_passed_and_is_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved_plan(tmp_path, PASSING)
    gate(tmp_path)
    capsys.readouterr()
    assert guard(tmp_path) == 0
    assert capsys.readouterr().out == (
        f"apply-guard: {tmp_path / 'tfplan'} passed the plan gate and is up to date\n"
    )


def test_apply_guard_refuses_a_plan_that_failed_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved_plan(tmp_path, FAILING)
    gate(tmp_path)
    capsys.readouterr()
    assert guard(tmp_path) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"apply-guard: {tmp_path / 'tfplan'} failed the plan gate;")
    assert "AllowedRegions lacks the home Region ap-northeast-1" in err


def test_apply_guard_refuses_a_plan_older_than_the_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved_plan(tmp_path, PASSING)
    gate(tmp_path)
    os.utime(tmp_path / "accounts.yaml", ns=(3_000_000_000, 3_000_000_000))
    capsys.readouterr()
    assert guard(tmp_path) == 2
    assert capsys.readouterr().err == (
        f"apply-guard: {tmp_path / 'tfplan'} is older than {tmp_path / 'accounts.yaml'}: the plan "
        "may not show what apply would do; run `make plan` again\n"
    )


@pytest.mark.parametrize("name", ["terraform.tfvars", "accounts.auto.tfvars.json"])
def test_apply_guard_refuses_a_plan_older_than_the_settings(tmp_path: Path, name: str) -> None:
    saved_plan(tmp_path, PASSING)
    gate(tmp_path)
    os.utime(tmp_path / name, ns=(3_000_000_000, 3_000_000_000))
    assert guard(tmp_path) == 2


def test_apply_guard_refuses_a_plan_changed_after_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved_plan(tmp_path, PASSING)
    gate(tmp_path)
    (tmp_path / "tfplan").write_bytes(b"another plan")
    capsys.readouterr()
    assert guard(tmp_path) == 2
    assert "changed after the plan gate checked it" in capsys.readouterr().err


def test_apply_guard_refuses_a_plan_the_gate_never_saw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved_plan(tmp_path, PASSING)
    assert guard(tmp_path) == 2
    assert "was not checked by the plan gate" in capsys.readouterr().err


def test_apply_guard_without_a_saved_plan_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert guard(tmp_path) == 2
    assert capsys.readouterr().err == (
        f"apply-guard: {tmp_path / 'tfplan'}: no saved plan; run `make plan` first\n"
    )


def test_plan_diff_fails_an_scp_that_names_an_unknown_action(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = json.loads((PASSING / "plan.json").read_text())
    policy = next(rc for rc in plan["resource_changes"] if rc["type"] == "aws_organizations_policy")
    document = json.loads(policy["change"]["after"]["content"])
    document["Statement"][0]["Action"].append("bedrock:InvokeModels")
    policy["change"]["after"]["content"] = json.dumps(document, separators=(",", ":"))
    (tmp_path / "plan.json").write_text(json.dumps(plan))

    code = main(["plan-diff", str(tmp_path / "plan.json"), "--format", "json"])

    reasons = json.loads(capsys.readouterr().out)["gate"]["reasons"]
    assert (code, [r["rule_id"] for r in reasons]) == (1, ["RG-SCP-ACTION"])
    assert (
        "'bedrock:InvokeModels' matches no action in the IAM reference data"
        in (reasons[0]["message"])
    )


def test_plan_diff_output_file_holds_the_review(tmp_path: Path) -> None:
    out = tmp_path / "review.md"
    code = main(
        ["plan-diff", str(PASSING / "plan.json"), "--format", "markdown", "--output", str(out)]
    )
    assert (code, out.read_text()) == (0, (PASSING / "expected.md").read_text())


def test_plan_diff_refuses_an_invalid_registry_given_explicitly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "accounts.yaml"
    bad.write_text("accounts: [\n")
    assert main(["plan-diff", str(PASSING / "plan.json"), "--registry", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"regionguard: {bad}")


def test_plan_diff_warns_and_goes_on_when_the_registry_beside_the_plan_is_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(PASSING / "plan.json", tmp_path / "plan.json")
    (tmp_path / "accounts.yaml").write_text("accounts: [\n")
    assert main(["plan-diff", str(tmp_path / "plan.json")]) == 0
    assert capsys.readouterr().err.startswith(
        f"regionguard: warning: accounts not named: {tmp_path / 'accounts.yaml'}"
    )
