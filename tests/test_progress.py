"""What a long command says while it runs: Terraform's summary lines, a heartbeat, apply's."""

from __future__ import annotations

import datetime
import json
import re
import time
from pathlib import Path

import pytest

from regionguard import pipeline
from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.inputs import backend_changed
from regionguard.planfile import Plan, parse_plan
from regionguard.terraform import IsFlagged, Terraform, TerraformError

PLANS = Path(__file__).resolve().parent / "fixtures" / "plans"
REPO = Path(__file__).resolve().parent.parent


def _plan(name: str) -> Plan:
    path = next(PLANS.rglob(f"{name}/plan.json"))
    return parse_plan(path.read_text(), str(path))


@pytest.mark.parametrize(
    ("fixture", "summary"),
    [
        ("create-all-ous", "created 1 SCP, 3 SCP attachments, 3 Region deny controls"),
        ("no-change", "nothing to change"),
        ("add-region", "updated 1 SCP, 3 Region deny controls"),
    ],
)
def test_apply_says_what_it_created_updated_and_deleted(fixture: str, summary: str) -> None:
    assert pipeline.applied_summary(_plan(fixture)) == summary


def test_terraform_summary_lines_pass_through_and_nothing_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for line in (
        "module.x.aws_organizations_policy.this: Creating...",
        "Plan: 7 to add, 0 to change, 0 to destroy.",
        "Apply complete! Resources: 7 added, 0 changed, 0 destroyed.",
        "No changes. Your infrastructure matches the configuration.",
        "",
    ):
        pipeline.terraform_summary(line)
    assert capsys.readouterr().err == (
        "  terraform: Plan: 7 to add, 0 to change, 0 to destroy.\n"
        "  terraform: Apply complete! Resources: 7 added, 0 changed, 0 destroyed.\n"
        "  terraform: No changes. Your infrastructure matches the configuration.\n"
    )


@pytest.mark.processes
def test_each_line_terraform_prints_reaches_the_progress_receiver_while_it_runs(
    tmp_path: Path,
) -> None:
    fake = tmp_path / "terraform"
    gate = tmp_path / "go-on"
    fake.write_text(
        "#!/bin/sh\n"
        'printf "Plan: 1 to add\\n"\n'
        f'while [ ! -e "{gate}" ]; do sleep 0.05; done\n'
        'printf "Apply complete!"\n'
    )
    fake.chmod(0o755)
    seen: list[str] = []

    def receive(line: str) -> None:
        seen.append(line)
        gate.touch()  # the first line arrived while Terraform still runs

    result = Terraform(tmp_path, binary=str(fake), progress=receive, timeout=60).run("plan")
    assert seen == ["Plan: 1 to add"]  # the last line has no newline: it is not handed on
    assert result.stdout == "Plan: 1 to add\nApply complete!"


def test_a_long_stage_says_it_is_still_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pipeline, "HEARTBEAT_SECONDS", 0.05)
    env_dir = REPO / "envs" / "local"
    stages = pipeline.Stages("plan", Environment(env_dir, datetime.date(2026, 12, 1)))
    heard = ""
    with stages.stage("terraform plan"):
        deadline = time.monotonic() + 60
        while "still running" not in heard:
            assert time.monotonic() < deadline, "no heartbeat within 60 s"
            heard += capsys.readouterr().err
            time.sleep(0.01)
    lines = (heard + capsys.readouterr().err).splitlines()
    prefix = f"regionguard plan {env_dir}: terraform plan"
    assert lines[0] == f"{prefix} ..."
    assert all(
        re.fullmatch(rf"{re.escape(prefix)}: still running \(\d+ s\)", x) for x in lines[1:-1]
    )
    assert len(lines) >= 3
    assert re.fullmatch(rf"{re.escape(prefix)}: done \(\d+\.\d s\)", lines[-1])


# ---------------------------------------------------------------- terraform init

# A terraform that needs init before anything else, and asks for it again
# when NEEDS_INIT exists (as after a change of the lock file).
NEEDS_INIT = """#!/bin/sh
echo "$1" >> "$0.calls"
case "$1" in
init) mkdir -p .terraform/providers .terraform/modules
      echo '{"Modules": []}' > .terraform/modules/modules.json
      rm -f "$0.needs-init"; exit 0 ;;
*) if [ -e "$0.needs-init" ] || [ ! -d .terraform/providers ]; then
     echo 'Error: Inconsistent dependency lock file; run "terraform init"' >&2; exit 1
   fi
   echo "did $1"; exit 0 ;;
esac
"""


def _needs_init(tmp_path: Path) -> tuple[Path, Terraform, pipeline.Stages]:
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir()
    fake.write_text(NEEDS_INIT)
    fake.chmod(0o755)
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    env = Environment(env_dir, datetime.date(2026, 12, 1))
    return fake, Terraform(env_dir, binary=str(fake)), pipeline.Stages("plan", env)


def _calls(fake: Path) -> list[str]:
    return Path(f"{fake}.calls").read_text().split()


def test_init_runs_in_a_folder_never_initialized_then_not_again(tmp_path: Path) -> None:
    fake, tf, stages = _needs_init(tmp_path)
    env = Environment(tf.working_dir, datetime.date(2026, 12, 1))
    for _ in range(2):
        result = pipeline.run_initialized(tf, env, stages, "plan", lambda: tf.run("plan"))
        assert result.stdout == "did plan\n"
    assert _calls(fake) == ["init", "plan", "plan"]


def test_init_runs_again_when_terraform_asks_for_it_and_the_command_is_retried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, tf, stages = _needs_init(tmp_path)
    env = Environment(tf.working_dir, datetime.date(2026, 12, 1))
    pipeline.run_initialized(tf, env, stages, "plan", lambda: tf.run("plan"))
    Path(f"{fake}.needs-init").touch()  # the lock file changed
    result = pipeline.run_initialized(tf, env, stages, "plan", lambda: tf.run("plan"))
    assert result.stdout == "did plan\n"
    assert _calls(fake) == ["init", "plan", "plan", "init", "plan"]
    assert f"terraform asks for terraform init in {tf.working_dir}: running it" in (
        capsys.readouterr().err
    )


def test_a_failure_that_is_not_about_init_is_not_retried(tmp_path: Path) -> None:
    fake, tf, stages = _needs_init(tmp_path)
    env = Environment(tf.working_dir, datetime.date(2026, 12, 1))
    pipeline.run_initialized(tf, env, stages, "plan", lambda: tf.run("plan"))
    tries: list[str] = []

    def failing() -> None:
        tries.append("x")
        raise TerraformError("terraform plan failed (exit 1): Error: invalid value")

    with pytest.raises(TerraformError, match="invalid value"):
        pipeline.run_initialized(tf, env, stages, "plan", failing)
    assert (tries, _calls(fake)) == (["x"], ["init", "plan"])


def _backend_cache(env_dir: Path, path: str) -> None:
    """What ``terraform init -backend-config=backend.hcl`` records of a local backend."""
    config = {"path": path, "workspace_dir": None}
    cache = {"version": 3, "backend": {"type": "local", "config": config, "hash": 1}}
    (env_dir / ".terraform" / "terraform.tfstate").write_text(json.dumps(cache))


def test_a_backend_hcl_changed_since_init_is_refused_before_terraform_runs(
    tmp_path: Path,
) -> None:
    fake, tf, stages = _needs_init(tmp_path)
    env = Environment(tf.working_dir, datetime.date(2026, 12, 1))
    (tf.working_dir / "backend.hcl").write_text('path = "a.tfstate"\n')
    pipeline.run_initialized(tf, env, stages, "plan", lambda: tf.run("plan"))
    _backend_cache(tf.working_dir, "a.tfstate")
    pipeline.run_initialized(tf, env, stages, "plan", lambda: tf.run("plan"))
    (tf.working_dir / "backend.hcl").write_text('path = "b.tfstate"\n')
    with pytest.raises(InputError) as refused:
        pipeline.run_initialized(tf, env, stages, "plan", lambda: tf.run("plan"))
    message = str(refused.value)
    assert message.startswith(f"{tf.working_dir / 'backend.hcl'}: path changed since")
    assert "init -reconfigure -backend-config=backend.hcl" in message
    assert _calls(fake) == ["init", "plan", "plan"]


@pytest.mark.terraform
def test_terraform_keeps_the_backend_of_its_last_init_whatever_backend_hcl_says(
    tmp_path: Path,
) -> None:
    """Why the check above: measured, Terraform plans against the old backend, asking nothing."""
    (tmp_path / "main.tf").write_text(
        'terraform {\n  backend "local" {}\n}\noutput "x" { value = 1 }\n'
    )
    (tmp_path / "backend.hcl").write_text('path = "a.tfstate"\n')
    tf = Terraform(tmp_path)
    tf.run("init", input=False, backend=True, backend_config="backend.hcl")
    assert backend_changed(tmp_path) == []
    (tmp_path / "backend.hcl").write_text('path = "b.tfstate"\n')
    assert backend_changed(tmp_path) == ["path"]
    tf.run("apply", auto_approve=IsFlagged, input=False)
    assert (tmp_path / "a.tfstate").is_file() and not (tmp_path / "b.tfstate").exists()
