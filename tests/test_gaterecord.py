"""plan-diff reviews any JSON plan; the gate record binds a passed plan to its exact bytes."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import plan_fixture, record_as_passed
from regionguard.cli import main
from regionguard.environment import Environment
from regionguard.errors import FindingsError
from regionguard.gaterecord import PlanFiles, Reviewed, check_record, private_copy, write_record

PASSING = plan_fixture("create-all-ous")
TODAY = datetime.date(2026, 11, 30)


def saved_plan(env_dir: Path) -> tuple[PlanFiles, Environment]:
    """An environment folder with its inputs and a saved plan that passed every stage."""
    shutil.copyfile(PASSING / "accounts.yaml", env_dir / "accounts.yaml")
    (env_dir / "terraform.tfvars").write_text('home_region = "ap-northeast-1"\n')
    (env_dir / "accounts.auto.tfvars.json").write_text("{}\n")
    (env_dir / "expectations.yaml").write_text("expectations: []\n")
    files = PlanFiles(env_dir)
    files.plan.write_bytes(b"binary plan")
    record_as_passed(env_dir, TODAY)
    env = Environment(env_dir, TODAY)
    return files, env


def test_a_recorded_plan_with_unchanged_inputs_may_be_applied(tmp_path: Path) -> None:
    files, env = saved_plan(tmp_path)
    assert check_record(files, env) == []


def test_a_plan_swapped_after_the_review_is_refused(tmp_path: Path) -> None:
    files, env = saved_plan(tmp_path)
    files.plan.write_bytes(b"another plan, destroying two guardrails")
    assert check_record(files, env) == [
        f"{files.plan} is not the plan the gate reviewed (its SHA-256 differs); "
        f"run `make plan ENV={tmp_path.name}` again"
    ]


@pytest.mark.parametrize(
    "name", ["accounts.yaml", "terraform.tfvars", "accounts.auto.tfvars.json", "expectations.yaml"]
)
def test_an_input_edited_after_the_review_is_refused_whatever_its_time(
    tmp_path: Path, name: str
) -> None:
    files, env = saved_plan(tmp_path)
    path = tmp_path / name
    stat = path.stat()
    path.write_text(path.read_text() + "# edited\n")
    # Restoring the old file times does not hide the change: only contents count.
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert check_record(files, env) == [
        f"{path} changed since the plan was reviewed; the plan may not show what apply would "
        f"do; run `make plan ENV={tmp_path.name}` again"
    ]


def test_a_second_tfvars_file_appearing_after_the_review_is_refused(tmp_path: Path) -> None:
    files, env = saved_plan(tmp_path)
    (tmp_path / "zz.auto.tfvars.json").write_text('{"bedrock_permitted_account_ids": []}\n')
    assert [p.split(" changed")[0] for p in check_record(files, env)] == [
        str(tmp_path / "zz.auto.tfvars.json")
    ]


def test_a_plan_without_a_record_is_refused(tmp_path: Path) -> None:
    files, env = saved_plan(tmp_path)
    files.record.unlink()
    assert check_record(files, env) == [
        f"{files.plan} has no gate record ({files.record}): it did not pass every stage of "
        f"`regionguard plan`; run `make plan ENV={tmp_path.name}`"
    ]


def test_a_record_of_another_version_is_refused(tmp_path: Path) -> None:
    files, env = saved_plan(tmp_path)
    record = json.loads(files.record.read_text())
    files.record.write_text(json.dumps({**record, "version": 1}))
    assert check_record(files, env) == [
        f"{files.record}: not a gate record of this version; run `make plan ENV={tmp_path.name}`"
    ]


def test_no_saved_plan_says_what_to_run(tmp_path: Path) -> None:
    files, env = saved_plan(tmp_path)
    files.plan.unlink()
    assert check_record(files, env) == [
        f"{files.plan}: no saved plan; run `make plan ENV={tmp_path.name}` first"
    ]


def test_apply_refuses_a_plan_without_a_record_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, _env = saved_plan(tmp_path)
    files.record.unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main(["apply", "--env-dir", str(tmp_path)]) == 2
    assert "has no gate record" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


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


@pytest.mark.parametrize("swap", ["plan", "json", "input"])
def test_no_record_binds_files_that_changed_while_the_plan_was_reviewed(
    tmp_path: Path, swap: str
) -> None:
    """Another run, or an edit, between the review and the record: no record at all."""
    files, env = saved_plan(tmp_path)
    files.record.unlink()
    files.json.write_text("{}\n")
    reviewed = Reviewed.now(files, env)
    changed = {
        "plan": files.plan,
        "json": files.json,
        "input": env.dir / "terraform.tfvars",
    }[swap]
    changed.write_bytes(changed.read_bytes() + b"\n# changed meanwhile\n")
    with pytest.raises(FindingsError, match=f"{changed} changed while the plan was reviewed"):
        write_record(
            files,
            env,
            reviewed=reviewed,
            allow_destroy=False,
            widening=[],
            facts=0,
            checkov_version="3.3.30",
        )
    assert not files.record.exists()


def test_the_private_copy_is_what_was_hashed_whatever_happens_to_the_saved_plan(
    tmp_path: Path,
) -> None:
    files, env = saved_plan(tmp_path)
    with private_copy(files.plan) as (copy, digest):
        files.plan.write_bytes(b"another plan, written by another run")
        assert copy.read_bytes() == b"binary plan"
        assert digest == hashlib.sha256(b"binary plan").hexdigest()
        assert check_record(files, env, digest) == []
        assert oct(copy.parent.stat().st_mode & 0o777) == "0o700"
    assert not copy.exists()
    assert check_record(files, env) != []


def test_the_private_copy_of_a_killed_apply_is_removed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL leaves the copy's folder; the next apply removes those of processes gone."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    gone = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    killed = temp / f"regionguard-plan-{gone.stdout.strip()}-abcd1234"
    running = temp / f"regionguard-plan-{os.getppid()}-efgh5678"
    other = temp / "regionguard-plan-notapid-x"
    for folder in (killed, running, other):
        folder.mkdir()
        (folder / "tfplan").write_bytes(b"old plan")
    files, _env = saved_plan(tmp_path)
    with private_copy(files.plan) as (copy, _digest):
        assert copy.parent.name.startswith(f"regionguard-plan-{os.getpid()}-")
        assert sorted(p.name for p in temp.iterdir()) == sorted(
            [copy.parent.name, running.name, other.name]
        )
    assert sorted(p.name for p in temp.iterdir()) == sorted([running.name, other.name])
