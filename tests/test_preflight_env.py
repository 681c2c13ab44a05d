"""What an S3-backed environment needs before `make plan`: backend.hcl, a real account id."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from regionguard.errors import InputError
from regionguard.inputs import (
    check_backend,
    check_management_account_id,
    is_placeholder_account_id,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of envs/prod (symlinks resolved), with the working directory at its parent."""
    env = tmp_path / "prod"
    shutil.copytree(REPO_ROOT / "envs" / "prod", env, symlinks=False)
    monkeypatch.chdir(tmp_path)
    return env


def test_without_backend_hcl_the_error_names_the_example(prod: Path) -> None:
    with pytest.raises(InputError) as caught:
        check_backend(prod)
    assert str(caught.value) == (
        "prod/backend.hcl: missing; this environment keeps its state in S3. Copy "
        "prod/backend.hcl.example to prod/backend.hcl, set bucket and region to your state "
        "bucket (docs/adopt.md, Backend), then run the command again"
    )
    assert caught.value.exit_code == 2


def test_backend_hcl_identical_to_the_example_is_refused(prod: Path) -> None:
    shutil.copy(prod / "backend.hcl.example", prod / "backend.hcl")
    with pytest.raises(InputError, match=r"^prod/backend.hcl: still the example"):
        check_backend(prod)


def test_a_real_backend_hcl_passes(prod: Path) -> None:
    (prod / "backend.hcl").write_text('bucket = "acme-tfstate"\nregion = "eu-west-2"\n')
    check_backend(prod)  # raises nothing


def test_an_environment_without_an_s3_backend_needs_no_backend_hcl() -> None:
    check_backend(REPO_ROOT / "envs" / "local")  # raises nothing


def test_the_committed_placeholder_management_account_is_refused_with_the_fix(prod: Path) -> None:
    with pytest.raises(InputError) as caught:
        check_management_account_id(prod)
    assert str(caught.value) == (
        "prod/terraform.tfvars: management_account_id '111111111111' is a placeholder; set it "
        "to the id of your organization's management account (aws sts get-caller-identity "
        "--query Account, with the management account's credentials), and replace the sample "
        "accounts of prod/accounts.yaml with your own"
    )


def test_a_real_management_account_passes(prod: Path) -> None:
    tfvars = prod / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text().replace('"111111111111"', '"409385720164"'))
    check_management_account_id(prod)  # raises nothing


def test_local_declares_no_management_account_and_passes() -> None:
    check_management_account_id(REPO_ROOT / "envs" / "local")  # raises nothing


@pytest.mark.parametrize(
    ("account_id", "placeholder"),
    [
        ("111111111111", True),
        ("000000000000", True),
        ("999999999999", True),
        ("123456789012", True),
        ("409385720164", False),
        ("111111111112", False),
    ],
)
def test_placeholder_ids_are_all_one_digit_or_sample_ids(
    account_id: str, placeholder: bool
) -> None:
    assert is_placeholder_account_id(account_id) is placeholder
