"""Limits that hold: the SCP size limit and wildcard principal exemptions.

Python (``check_settings``, ``validate``) and Terraform (the ``validation``
blocks of ``envs/_shared/variables.tf``) refuse the same values: one table of
cases runs through both, the Terraform side as ``terraform test`` plan runs
against a copy of envs/local with a mocked provider. The SCP module's own
``size_limit`` block runs on a copy of the module, and the sandbox's copies
of AWS's limits are compared with the package's (docs/decisions.md, "AWS's
limits").
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import copy_local_env, copy_module, mocked_organization, terraform_test
from regionguard import preflight
from regionguard.checks import SCP_ATTACHMENT_QUOTA
from regionguard.errors import InputError
from regionguard.render import render_control_parameters, render_scp
from regionguard.sandbox import controltower, organizations
from regionguard.settings import (
    AWS_SCP_SIZE_LIMIT,
    Settings,
    check_settings,
    settings_from_mapping,
)
from regionguard.validation import validate_documents

SEED = Settings(
    home_region="ap-northeast-1",
    allowed_regions=("ap-northeast-1", "us-east-1"),
    exempted_actions=("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
)
WILDCARD = "arn:aws:iam::*:role/Admin"

# name: (variables, the variable Terraform refuses or None when it accepts them)
CASES: dict[str, tuple[dict[str, Any], str | None]] = {
    "size_limit_at_aws_limit": ({"scp_size_limit": 10240}, None),
    "size_limit_above_aws_limit": ({"scp_size_limit": 10241}, "scp_size_limit"),
    "size_limit_20000": ({"scp_size_limit": 20000}, "scp_size_limit"),
    "size_limit_zero": ({"scp_size_limit": 0}, "scp_size_limit"),
    "named_principal": (
        {"exempted_principal_arns": ["arn:aws:iam::123456789012:role/Admin"]},
        None,
    ),
    "wildcard_principal": ({"exempted_principal_arns": [WILDCARD]}, "exempted_principal_arns"),
    "question_mark_principal": (
        {"exempted_principal_arns": ["arn:aws:iam::123456789012:role/Admi?"]},
        "exempted_principal_arns",
    ),
    "wildcard_principal_allowed": (
        {"exempted_principal_arns": [WILDCARD], "allow_wildcard_principal_exemptions": True},
        None,
    ),
}


def python_refuses(variables: dict[str, Any]) -> str | None:
    """The variable Python refuses among ``variables``, or None."""
    raw = {
        "home_region": SEED.home_region,
        "allowed_regions": list(SEED.allowed_regions),
        "exempted_actions": list(SEED.exempted_actions),
        **variables,
    }
    try:
        settings = settings_from_mapping(raw)
        check_settings(settings)
    except InputError as exc:
        return str(exc).split(": ", 1)[1].split(" ", 1)[0]
    findings = validate_documents(
        render_scp(settings, ["111122223333"]),
        render_control_parameters(settings),
        home_region=settings.home_region,
        size_limit=settings.scp_size_limit,
        allow_wildcard_principal_exemptions=settings.allow_wildcard_principal_exemptions,
    )
    errors = [f for f in findings if f.level == "error"]
    if any(f.rule_id == "RG-CTRL-PRINCIPAL-WILDCARD" for f in errors):
        return "exempted_principal_arns"
    assert errors == []
    return None


@pytest.mark.parametrize("name", list(CASES))
def test_python_refuses_what_the_table_says(name: str) -> None:
    variables, refused = CASES[name]
    assert python_refuses(variables) == refused


def test_size_limit_above_aws_is_named_with_the_fix() -> None:
    with pytest.raises(InputError) as err:
        check_settings(dataclasses.replace(SEED, scp_size_limit=20000))
    assert str(err.value) == (
        "terraform.tfvars: scp_size_limit 20,000 is above AWS's limit of 10,240 characters "
        "per SCP, which AWS Organizations enforces; set it to 10240 or less (5120 for the "
        "pre-May-2026 limit)"
    )


def test_validate_documents_never_counts_past_the_aws_limit() -> None:
    # A caller passing a larger limit (plan-gate reads it from the plan) still gets AWS's.
    content = json.dumps({"Version": "2012-10-17", "Statement": []}) + " " * AWS_SCP_SIZE_LIMIT
    findings = validate_documents(
        content, {"AllowedRegions": ["us-east-1"]}, home_region=None, size_limit=20000
    )
    size = [f.message for f in findings if f.rule_id == "RG-SCP-SIZE"]
    assert size == [
        f"the SCP is {len(content):,} characters, {len(content) - AWS_SCP_SIZE_LIMIT:,} over "
        "the 10,240 limit; even without its accounts it would not fit: shorten "
        "guarded_actions or allowed_regions, or review scp_size_limit"
    ]


def test_wildcard_principal_is_an_error_unless_allowed() -> None:
    params = {"AllowedRegions": ["us-east-1"], "ExemptedPrincipalArns": [WILDCARD]}
    scp = render_scp(SEED, [])
    refused = validate_documents(scp, params, home_region=None)
    allowed = validate_documents(
        scp, params, home_region=None, allow_wildcard_principal_exemptions=True
    )
    assert [
        (f.level, f.entry, f.message) for f in refused if f.rule_id == "RG-CTRL-PRINCIPAL-WILDCARD"
    ] == [
        (
            "error",
            "ExemptedPrincipalArns[0]",
            "'arn:aws:iam::*:role/Admin' is a wildcard: every principal it matches, in every "
            "account, escapes the Region deny; name each role, or set "
            "allow_wildcard_principal_exemptions = true",
        )
    ]
    assert [(f.level, f.message) for f in allowed if f.rule_id == "RG-CTRL-PRINCIPAL-WILDCARD"] == [
        (
            "warning",
            "'arn:aws:iam::*:role/Admin' exempts every principal it matches from the Region "
            "deny (allowed by allow_wildcard_principal_exemptions)",
        )
    ]


def hcl(value: Any) -> str:
    return json.dumps(value)  # JSON values are HCL literals for these types


@pytest.mark.terraform
def test_terraform_refuses_what_the_table_says(tmp_path: Path) -> None:
    env = copy_local_env(tmp_path)
    blocks = [mocked_organization()]
    for name, (variables, refused) in CASES.items():
        lines = "\n".join(f"    {k} = {hcl(v)}" for k, v in variables.items())
        expect = f"  expect_failures = [var.{refused}]\n" if refused else ""
        blocks.append(
            f'\nrun "{name}" {{\n  command = plan\n\n  variables {{\n{lines}\n  }}\n{expect}}}\n'
        )
    (env / "tests").mkdir()
    (env / "tests" / "limits.tftest.hcl").write_text("".join(blocks))
    terraform_test(env, list(CASES))


def test_the_sandbox_refuses_at_the_packages_limits() -> None:
    # The sandbox stands for AWS and keeps AWS's numbers; they are the package's.
    assert organizations.SCP_SIZE_LIMIT == controltower.SCP_SIZE_LIMIT == AWS_SCP_SIZE_LIMIT
    assert organizations.SCP_ATTACHMENT_QUOTA == SCP_ATTACHMENT_QUOTA == preflight.SCP_QUOTA


@pytest.mark.terraform
def test_the_scp_module_refuses_a_size_limit_above_aws_and_defaults_to_it(tmp_path: Path) -> None:
    module = copy_module(tmp_path, "bedrock-inference-scp")
    runs = {
        "default": (
            "",
            f"  assert {{\n    condition     = var.size_limit == {AWS_SCP_SIZE_LIMIT}\n"
            '    error_message = "the default is not AWS\'s limit"\n  }\n',
        ),
        "at_aws_limit": (f"    size_limit = {AWS_SCP_SIZE_LIMIT}\n", ""),
        "above_aws_limit": (
            f"    size_limit = {AWS_SCP_SIZE_LIMIT + 1}\n",
            "  expect_failures = [var.size_limit]\n",
        ),
        "zero": ("    size_limit = 0\n", "  expect_failures = [var.size_limit]\n"),
    }
    blocks = [
        'mock_provider "aws" {}\n\nvariables {\n'
        '  allowed_regions = ["us-east-1"]\n'
        '  target_ids      = ["ou-ab12-workload1"]\n}\n'
    ]
    for name, (variables, expect) in runs.items():
        blocks.append(
            f'\nrun "{name}" {{\n  command = plan\n\n  variables {{\n{variables}  }}\n{expect}}}\n'
        )
    (module / "tests" / "limits.tftest.hcl").write_text("".join(blocks))
    terraform_test(module, list(runs))
