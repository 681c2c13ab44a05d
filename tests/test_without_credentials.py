"""Without any AWS credentials: preflight's offline checks run, and `make validate` passes.

Each command runs in a process whose environment holds no AWS credential
variable and whose HOME is an empty folder (no ~/.aws). Only
``AWS_EC2_METADATA_DISABLED`` is set: without it boto3 and the S3 backend
would ask the instance metadata endpoint, which is not loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from regionguard.aws import sandbox_client
from regionguard.sandbox.server import SandboxApp

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def no_credentials(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }
    # Where Terraform finds providers offline (a mirror), never a credential.
    for name in ("TF_CLI_CONFIG_FILE", "REGIONGUARD_TF_MIRROR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def checkout(dest: Path, *envs: str) -> Path:
    """modules/, envs/_shared and ``envs`` (symlinks kept, no state) under ``dest``."""
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan*", "backend.hcl")
    shutil.copytree(REPO_ROOT / "modules", dest / "modules", ignore=ignore)
    shutil.copytree(REPO_ROOT / "envs" / "_shared", dest / "envs" / "_shared", ignore=ignore)
    for name in envs:
        shutil.copytree(
            REPO_ROOT / "envs" / name, dest / "envs" / name, symlinks=True, ignore=ignore
        )
    return dest


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({}, "Unable to locate credentials"),
        (
            {"AWS_PROFILE": "regionguard-plan"},
            "The config profile (regionguard-plan) could not be found",
        ),
        (
            {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"},
            "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY",
        ),
    ],
    ids=["nothing", "missing-profile", "partial"],
)
def test_preflight_runs_its_offline_checks_and_reports_credentials_as_one_check(
    tmp_path: Path, extra: dict[str, str], reason: str
) -> None:
    root = checkout(tmp_path / "repo", "staging")
    env = no_credentials(tmp_path / "home", REGIONGUARD_ROOT=str(root), **extra)
    result = subprocess.run(
        [str(VENV_BIN / "regionguard"), "preflight", "--env", "staging", "--format", "json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr) == (1, ""), result.stderr
    report = json.loads(result.stdout)
    assert [(c["id"], c["status"]) for c in report["checks"]] == [
        ("backend", "fail"),
        ("management-account-id", "fail"),
        ("credentials", "fail"),
    ]
    credentials = report["checks"][2]
    assert credentials["message"] == (
        f"AWS credentials: {reason}; run with the management account's credentials "
        "(AWS_PROFILE or the plan role, docs/adopt.md); the checks that read the "
        "organization did not run"
    )
    assert report["passed"] is False


@pytest.mark.terraform
def test_make_validate_needs_no_credentials_after_a_real_s3_init(
    tmp_path: Path, sandbox_server: tuple[SandboxApp, str]
) -> None:
    """`terraform init` with the S3 backend (the sandbox's S3, a real bucket), then validate.

    After the init, envs/staging/.terraform records the S3 backend, which
    any terraform command run in that data folder loads and so asks for
    credentials; `make validate` must not.
    """
    _app, endpoint = sandbox_server
    bucket = "regionguard-state-validate"
    sandbox_client("s3", endpoint).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
    )
    root = checkout(tmp_path / "repo", "staging")
    shutil.copy2(REPO_ROOT / "Makefile", root / "Makefile")
    staging = root / "envs" / "staging"
    (staging / "backend.hcl").write_text(
        f'bucket = "{bucket}"\n'
        'region = "ap-northeast-1"\n'
        f'endpoints = {{ s3 = "{endpoint}" }}\n'
        "use_path_style = true\n"
        "skip_credentials_validation = true\n"
        "skip_requesting_account_id = true\n"
        "skip_metadata_api_check = true\n"
    )
    credentials = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
    init = subprocess.run(
        ["terraform", f"-chdir={staging}", "init", "-input=false", "-backend-config=backend.hcl"],
        env=no_credentials(tmp_path / "init-home", **credentials),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert init.returncode == 0, init.stdout[-3000:] + init.stderr[-3000:]
    data = staging / ".terraform"
    recorded = json.loads((data / "terraform.tfstate").read_text())
    assert (recorded["backend"]["type"], recorded["backend"]["config"]["bucket"]) == ("s3", bucket)
    before = (data / "terraform.tfstate").read_text()

    result = subprocess.run(
        ["make", "-C", str(root), "--no-print-directory", "validate", "ENV=staging"],
        env=no_credentials(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout == ("validate envs/staging\nSuccess! The configuration is valid.\n\n"), (
        result.stdout
    )
    # The environment's own data folder is left as `terraform init` wrote it.
    assert (data / "terraform.tfstate").read_text() == before
