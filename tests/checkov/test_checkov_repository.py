"""`make check` on a copy of the repository: each mutation fails with the check's id and message."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from checkov_runner import REPO_ROOT, run_checkov

from regionguard import catalogue

pytestmark = pytest.mark.checkov

# The flags of `make check` for an environment (Makefile CHECKOV_FLAGS).
FLAGS = [
    "--quiet",
    "--skip-download",
    "--config-file",
    ".checkov.yaml",
    "--external-checks-dir",
    "policies/checkov",
]


def copy_repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("modules", "envs", "policies"):
        shutil.copytree(
            REPO_ROOT / name,
            root / name,
            symlinks=True,
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tfplan*", "__pycache__"),
        )
    shutil.copy(REPO_ROOT / ".checkov.yaml", root / ".checkov.yaml")
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def unguarded_exemption(root: Path) -> None:
    edit(
        root / "envs/prod/terraform.tfvars",
        '"bedrock:InvokeModelWithResponseStream",\n]',
        '"bedrock:InvokeModelWithResponseStream",\n  "bedrock:CreateModelInvocationJob",\n]',
    )


def wildcard_exemption(root: Path) -> None:
    path = root / "envs/prod/terraform.tfvars"
    text = re.sub(
        r"exempted_actions = \[[^\]]*\]", 'exempted_actions = ["bedrock:*"]', path.read_text()
    )
    path.write_text(text + 'guarded_actions = ["bedrock:*"]\n')


def allow_statement(root: Path) -> None:
    edit(
        root / "modules/bedrock-inference-scp/main.tf", 'Effect    = "Deny"', 'Effect    = "Allow"'
    )


def eleven_digit_account(root: Path) -> None:
    edit(root / "envs/prod/accounts.auto.tfvars.json", '"123456789012"', '"12345678901"')


def small_size_limit(root: Path) -> None:
    """The environment's own scp_size_limit, below the size of its SCP (358 characters)."""
    path = root / "envs/prod/terraform.tfvars"
    path.write_text(path.read_text() + "scp_size_limit = 300\n")


MUTATIONS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "unguarded exemption": (
        unguarded_exemption,
        "CKV_RG_10",
        "bedrock:CreateModelInvocationJob is exempted from the Region deny on the OUs the "
        "environment discovers but no SCP attached there denies it outside the allowed "
        "Regions: it is open to every account in every Region",
    ),
    "wildcard exemption": (
        wildcard_exemption,
        "CKV_RG_9",
        "ExemptedActions 'bedrock:*' is a wildcard: it leaves every matching action outside "
        "the Region deny; name each action",
    ),
    "Allow statement": (
        allow_statement,
        "CKV_RG_1",
        "statement 0 (DenyBedrockInferenceExceptAllowRegionSpecificAccounts) has Effect "
        "'Allow'; only \"Deny\" is allowed",
    ),
    "11-digit account id": (
        eleven_digit_account,
        "CKV_RG_5",
        "statement 0 (DenyBedrockInferenceExceptAllowRegionSpecificAccounts) StringNotEquals "
        "aws:PrincipalAccount: '12345678901' is 11 characters; an AWS account id is 12 digits",
    ),
    "scp_size_limit below the SCP": (
        small_size_limit,
        "CKV_RG_6",
        "the document is 358 characters; the limit is 300",
    ),
}


# An Allow in place of the guard statement also leaves the exemptions unguarded.
ALSO_FAILING = {"Allow statement": {"CKV_RG_10"}}


def test_make_check_uses_the_flags_these_tests_use() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert f"CHECKOV_FLAGS := {' '.join(FLAGS)}\n" in makefile


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutation_fails_make_check_with_the_check_id_and_message(
    tmp_path: Path, mutation: str
) -> None:
    mutate, check_id, detail = MUTATIONS[mutation]
    rule = catalogue.by_id(check_id)
    assert rule is not None
    root = copy_repository(tmp_path)
    mutate(root)
    code, stdout, stderr = run_checkov(
        [*FLAGS, "--framework", "terraform", "-d", "envs/prod"], root
    )
    assert code == 1, stdout + stderr
    failed_ids = set(re.findall(r"Check: (CKV_RG_\d+):", stdout))
    assert failed_ids == {check_id} | ALSO_FAILING.get(mutation, set())
    assert f'Check: {check_id}: "{rule.title}"' in stdout
    assert detail in stdout + stderr
