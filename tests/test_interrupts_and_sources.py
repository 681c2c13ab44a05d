"""Ctrl-C and SIGTERM reach Terraform; ENV and SANDBOX_PORT never reach a shell unchecked;
no second source of a guarded variable reaches Terraform unseen.

The other tests of stopping Terraform are in tests/test_terraform_stop.py.
"""

from __future__ import annotations

import datetime
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from regionguard.cli import main
from regionguard.environment import Environment
from regionguard.errors import InputError
from terraform_fakes import Driver, runs

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.processes
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_is_passed_on_to_terraform_and_waited_for(
    tmp_path: Path, signum: signal.Signals
) -> None:
    driver = Driver(tmp_path)
    try:
        driver.wait_started()
        # Terraform runs in a session of its own: only regionguard gets the
        # signal, as when Ctrl-C reaches make's foreground process group.
        driver.proc.send_signal(signum)
        assert (driver.exit_code(), driver.stdout(), driver.marker.read_text()) == (
            130,
            "starting terraform\ninterrupted; terraform exit 130\n",
            "interrupted\n",
        )
        assert not runs(driver.fake_pid())
    finally:
        driver.stop()


@pytest.mark.parametrize(
    "variable", ["ENV=local;touch PWNED", "ENV=%", "ENV=loc al", "SANDBOX_PORT=1;touch PWNED"]
)
def test_make_refuses_env_and_port_values_before_any_shell_sees_them(
    tmp_path: Path, variable: str
) -> None:
    shutil.copy2(REPO / "Makefile", tmp_path / "Makefile")
    for env in ("local", "staging", "prod"):
        (tmp_path / "envs" / env).mkdir(parents=True)
        (tmp_path / "envs" / env / "backend.tf").write_text("")
    done = subprocess.run(
        ["make", "-C", str(tmp_path), "plan", variable],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "is not an environment" in done.stderr or "is not a port number" in done.stderr
    assert not (tmp_path / "PWNED").exists()


def _env(tmp_path: Path) -> Path:
    env_dir = tmp_path / "local"
    shutil.copytree(REPO / "envs" / "local", env_dir, symlinks=True)
    return env_dir


@pytest.mark.parametrize(
    "name", ["zz.auto.tfvars.json", "extra.auto.tfvars", "terraform.tfvars.json"]
)
def test_a_second_tfvars_file_is_refused_and_nothing_changes(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env_dir = _env(tmp_path)
    (env_dir / name).write_text('{"bedrock_permitted_account_ids": ["999999999999"]}\n')
    before = {p.name: p.read_bytes() for p in env_dir.iterdir() if p.is_file()}
    assert main(["validate", "--env-dir", str(env_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{env_dir / name}: Terraform loads this file too" in err
    assert {p.name: p.read_bytes() for p in env_dir.iterdir() if p.is_file()} == before


def test_a_guarded_tf_var_in_the_environment_is_refused(tmp_path: Path) -> None:
    env = Environment(_env(tmp_path), datetime.date(2026, 11, 30))
    with pytest.raises(InputError, match="TF_VAR_bedrock_permitted_account_ids: Terraform would"):
        env.check_single_source({"TF_VAR_bedrock_permitted_account_ids": '["999999999999"]'})
    # A TF_VAR_ of a name the configuration does not declare: Terraform ignores it.
    env.check_single_source({"TF_VAR_not_declared": "x"})


def test_the_unregistered_ous_file_may_hold_only_unregistered_ous(tmp_path: Path) -> None:
    env_dir = _env(tmp_path)
    (env_dir / "unregistered_ous.auto.tfvars.json").write_text(
        '{"unregistered_ous": {}, "bedrock_permitted_account_ids": ["999999999999"]}\n'
    )
    with pytest.raises(InputError, match="must hold only unregistered_ous"):
        Environment(env_dir, datetime.date(2026, 11, 30)).check_single_source({})


def _prod(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan*", "backend.hcl")
    shutil.copytree(REPO / "modules", root / "modules", ignore=ignore)
    shutil.copytree(REPO / "envs" / "_shared", root / "envs" / "_shared", ignore=ignore)
    shutil.copytree(REPO / "envs" / "prod", root / "envs" / "prod", symlinks=True, ignore=ignore)
    return root / "envs" / "prod"


def test_plan_without_backend_hcl_names_the_example_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_dir = _prod(tmp_path)
    assert main(["plan", "--env-dir", str(env_dir)]) == 2
    err = capsys.readouterr().err
    assert f"Copy {env_dir / 'backend.hcl.example'} to {env_dir / 'backend.hcl'}" in err
    assert not (env_dir / ".terraform").exists()


def test_plan_with_the_sample_management_account_says_to_replace_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_dir = _prod(tmp_path)
    (env_dir / "backend.hcl").write_text('bucket = "acme-tfstate"\nregion = "eu-west-2"\n')
    assert main(["plan", "--env-dir", str(env_dir)]) == 2
    assert "management_account_id '111111111111' is a placeholder" in capsys.readouterr().err
    assert not (env_dir / ".terraform").exists()
