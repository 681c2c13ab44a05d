"""End to end: `make plan` and `make apply` on the local sandbox, with the plan gate in between.

A copy of the repository's Makefile, envs/_shared, envs/local and modules in
tmp_path is driven with make, using this checkout's virtual environment and a
sandbox on a free port: apply; permit one more account in the registry and
plan (exactly that account is newly permitted, the gate passes); exclude an
OU from the targets and plan (the gate fails, `make apply` refuses and
changes nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import UNTRACKED
from regionguard.sandbox import process

pytestmark = [pytest.mark.terraform, pytest.mark.sandbox]

SINGLE_SCP = 'module.bedrock_inference_scp.aws_organizations_policy.this["single"]'

VENV = Path(sys.executable).parent.parent
# checkov's environment of this checkout: the chain runs checkov over the plan.
CHECKOV_VENV = Path(__file__).resolve().parent.parent / ".venv-checkov"
SANDBOX_OU = "Sandbox"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def checkout(tmp_path: Path, repo_root: Path) -> Iterator[Path]:
    shutil.copy2(repo_root / "Makefile", tmp_path / "Makefile")
    shutil.copy2(repo_root / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(repo_root / "modules", tmp_path / "modules", ignore=UNTRACKED)
    shutil.copytree(repo_root / "envs" / "_shared", tmp_path / "envs" / "_shared", ignore=UNTRACKED)
    shutil.copytree(
        repo_root / "envs" / "local", tmp_path / "envs" / "local", symlinks=True, ignore=UNTRACKED
    )
    try:
        yield tmp_path
    finally:
        process.down(tmp_path / ".sandbox")


class Make:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
        env.pop("REGIONGUARD_TF_MIRROR", None)  # keep the caller's TF_CLI_CONFIG_FILE
        self.env = env

    def argv(self, target: str) -> list[str]:
        return [
            "make",
            "-C",
            str(self.root),
            target,
            "ENV=local",
            f"VENV={VENV}",
            f"CHECKOV_VENV={CHECKOV_VENV}",
            f"SANDBOX_PORT={self.port}",
            "-o",
            f"{VENV}/bin/.installed-sandbox",
            "-o",
            f"{CHECKOV_VENV}/.installed",
        ]

    def __call__(self, target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(target),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def review_json(env_dir: Path) -> dict[str, object]:
    out = subprocess.run(
        [
            str(VENV / "bin" / "regionguard"),
            "plan-diff",
            str(env_dir / "tfplan.json"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    ).stdout
    data: dict[str, object] = json.loads(out)
    return data


def test_plan_gate_end_to_end_on_the_sandbox(checkout: Path) -> None:
    make = Make(checkout)
    env_dir = checkout / "envs" / "local"
    ok(make("plan"))
    ok(make("apply"))

    registry = env_dir / "accounts.yaml"
    registry.write_text(
        registry.read_text().replace(
            "name: payments\n    ou: Workloads\n    bedrock_cross_region_inference: false",
            "name: payments\n    ou: Workloads\n    bedrock_cross_region_inference: true",
        )
    )
    # Permitting payments breaks the fact that it cannot invoke Bedrock in
    # us-east-2: the pull request that permits it edits that fact too.
    expectations = env_dir / "expectations.yaml"
    expectations.write_text(
        expectations.read_text().replace(
            "- fact: payments cannot invoke Bedrock in us-east-2\n    accounts: [payments]",
            "- fact: log-archive cannot invoke Bedrock in us-east-2\n    accounts: [log-archive]",
        )
    )
    ok(make("tfvars"))
    ok(make("plan"))
    review = review_json(env_dir)
    scp = review["scps"]
    assert isinstance(scp, list)
    assert (
        review["gate"],
        review["widening"],
        scp[0]["accounts_added"],
        scp[0]["accounts_removed"],
        review["resources"],
    ) == (
        {"passed": True, "allow_destroy": False, "reasons": []},
        [
            {
                "subject": "SCP " + SINGLE_SCP,
                "message": "account 100000000002 (payments) newly permitted",
            }
        ],
        [{"id": "100000000002", "name": "payments"}],
        [],
        {
            "create": [],
            "update": [SINGLE_SCP],
            "replace": [],
            "delete": [],
            "forget": [],
        },
    )
    assert "- Accounts newly permitted: 100000000002 (payments)\n" in (
        (env_dir / "tfplan.md").read_text()
    )
    # checkov ran over the plan as a stage of make plan, and the record says so.
    record = json.loads((env_dir / "tfplan.gate.json").read_text())
    assert record["checkov"] == {"verdict": "passed", "version": "3.3.30"}

    # A registry edited after the plan makes the saved plan stale, whatever
    # the file's time says: the record holds each input's SHA-256.
    stat = registry.stat()
    registry.write_text(registry.read_text() + "# edited after the review\n")
    os.utime(registry, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    stale = make("apply")
    assert stale.returncode != 0
    assert f"{registry.relative_to(checkout)} changed since the plan was reviewed" in stale.stderr

    settings = env_dir / "terraform.tfvars"
    settings.write_text(settings.read_text() + f'\ntarget_ou_exclude = ["{SANDBOX_OU}"]\n')
    failed = make("plan")
    assert failed.returncode != 0
    assert "the plan gate failed" in failed.stderr
    assert not (env_dir / "tfplan.gate.json").exists()
    reasons = review_json(env_dir)["gate"]
    assert isinstance(reasons, dict)
    assert sorted({r["rule_id"] for r in reasons["reasons"]}) == ["RG-PLAN-DESTROY"]
    state_before = (env_dir / "terraform.tfstate").read_bytes()
    refused = make("apply")
    assert refused.returncode != 0
    assert "has no gate record" in refused.stderr
    assert (env_dir / "terraform.tfstate").read_bytes() == state_before

    # A plan that breaks a fact of expectations.yaml is not applied either.
    settings.write_text(
        settings.read_text().replace(f'\ntarget_ou_exclude = ["{SANDBOX_OU}"]\n', "")
    )
    expectations.write_text(
        expectations.read_text().replace(
            "- fact: log-archive cannot invoke Bedrock in us-east-2\n    accounts: [log-archive]",
            "- fact: payments cannot invoke Bedrock in us-east-2\n    accounts: [payments]",
        )
    )
    broken = make("plan")
    assert broken.returncode != 0
    assert 'BROKEN  expectations[3] "payments cannot invoke Bedrock in us-east-2"' in broken.stdout
    assert "expectations.yaml does not hold for this plan (1 broken fact)" in broken.stderr
    refused = make("apply")
    assert refused.returncode != 0
    assert "has no gate record" in refused.stderr
    assert (env_dir / "terraform.tfstate").read_bytes() == state_before
