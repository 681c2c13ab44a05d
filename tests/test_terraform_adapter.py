from __future__ import annotations

import signal
from pathlib import Path

import pytest

from regionguard.terraform import RUN_DIR, Terraform, TerraformError

pytestmark = pytest.mark.terraform


def test_run_returns_the_terraform_version(tmp_path: Path) -> None:
    result = Terraform(tmp_path).run("version", json=True)
    assert result.returncode == 0
    assert '"terraform_version"' in result.stdout


def test_failed_command_raises_with_terraform_message(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "x" {\n')
    with pytest.raises(
        TerraformError,
        match=r"(?s)terraform validate .* failed \(exit 1\):\n.*Unclosed configuration block",
    ):
        Terraform(tmp_path).validate()


def test_a_new_output_is_a_change_and_after_apply_the_plan_is_empty(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('output "answer" {\n  value = 42\n}\n')
    tf = Terraform(tmp_path)
    tf.init()
    assert tf.plan(tmp_path / "tfplan") is True  # a new output is a change
    tf.apply(tmp_path / "tfplan")
    assert tf.output() == {"answer": 42}
    assert tf.plan() is False


# A timeout long enough for a shell to print its first line on a loaded
# machine: the output before the stop is part of what is asserted.
TIMEOUT = 3.0


@pytest.mark.processes
def test_command_over_its_timeout_is_interrupted_and_its_output_kept(tmp_path: Path) -> None:
    # A shell script stands in for a terraform that hangs (a dead endpoint).
    fake = tmp_path / "hung-terraform"
    fake.write_text("#!/bin/sh\necho started\nexec sleep 300\n")
    fake.chmod(0o755)
    with pytest.raises(TerraformError, match=r"did not finish within 3 s and was stopped") as err:
        Terraform(tmp_path, binary=str(fake), timeout=TIMEOUT).run("plan")
    assert err.value.result is not None
    assert (err.value.result.stdout, err.value.result.returncode) == ("started\n", -signal.SIGINT)
    assert list((tmp_path / RUN_DIR).iterdir()) == []


@pytest.mark.processes
def test_command_that_ignores_the_interrupt_is_killed_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("regionguard.terraform._INTERRUPT_GRACE_SECONDS", 0.5)
    fake = tmp_path / "stubborn-terraform"
    fake.write_text("#!/bin/sh\ntrap '' INT\necho started\nwhile :; do sleep 0.05; done\n")
    fake.chmod(0o755)
    with pytest.raises(TerraformError, match=r"did not finish within 3 s and was stopped") as err:
        Terraform(tmp_path, binary=str(fake), timeout=TIMEOUT).run("plan")
    assert err.value.result is not None
    assert (err.value.result.stdout, err.value.result.returncode) == ("started\n", -signal.SIGKILL)


@pytest.mark.parametrize(("lock", "expected"), [(True, "-lock-timeout=1s"), (False, "-lock=false")])
def test_a_plan_without_the_state_lock_passes_lock_false(
    tmp_path: Path, lock: bool, expected: str
) -> None:
    fake = tmp_path / "terraform"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$0.args"\n')
    fake.chmod(0o755)
    assert Terraform(tmp_path, binary=str(fake)).plan(lock_timeout="1s", lock=lock) is False
    args = (tmp_path / "terraform.args").read_text().splitlines()
    assert expected in args
    assert ("-lock=false" in args) is not lock
    assert ("-lock-timeout=1s" in args) is lock
