"""The Python rendering equals Terraform's, byte for byte.

A throwaway root in tmp_path calls both modules (by absolute path) and a
``terraform test`` file with ``mock_provider "aws"`` plans one run per case:
each run asserts that the module's ``content`` output equals the file Python
wrote for that case, and that ``jsonencode`` of the control module's
``parameters`` output equals Python's. Plan-mode runs suffice because both
values depend on variables only; the mock provider keeps it offline.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from regionguard.render import jsonencode, render_control_parameters, render_scp
from regionguard.settings import Settings, load_settings
from regionguard.terraform import Terraform

pytestmark = pytest.mark.terraform

SEED = Settings(
    home_region="ap-northeast-1",
    allowed_regions=("ap-northeast-1", "ap-northeast-3", "us-east-1", "eu-west-2"),
    exempted_actions=("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
)
SEED_IDS = ("111122223333", "444455556666")
OU_ARN = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-workload1"

ROOT = """\
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "home_region" { type = string }
variable "allowed_regions" { type = list(string) }
variable "bedrock_permitted_account_ids" { type = list(string) }
variable "guarded_actions" { type = list(string) }
variable "global_inference" { type = string }
variable "require_inference_profile" { type = bool }
variable "inference_profile_arn_patterns" { type = list(string) }
variable "exempted_actions" { type = list(string) }
variable "exempted_principal_arns" { type = list(string) }

module "scp" {
  source                         = "%(modules)s/bedrock-inference-scp"
  allowed_regions                = var.allowed_regions
  bedrock_permitted_account_ids  = var.bedrock_permitted_account_ids
  guarded_actions                = var.guarded_actions
  global_inference               = var.global_inference
  require_inference_profile      = var.require_inference_profile
  inference_profile_arn_patterns = var.inference_profile_arn_patterns
  target_ids                     = ["ou-ab12-workload1"]
}

module "control" {
  source                  = "%(modules)s/region-deny-control"
  targets                 = { "ou-ab12-workload1" = "%(ou_arn)s" }
  allowed_regions         = var.allowed_regions
  home_region             = var.home_region
  guarded_actions         = module.scp.guarded_actions
  scp_attachment_ids      = module.scp.attachment_ids
  exempted_actions        = var.exempted_actions
  exempted_principal_arns = var.exempted_principal_arns
}

output "content" {
  value = module.scp.content
}

output "parameters" {
  value = module.control.parameters
}
"""


def cases(repo_root: Path) -> dict[str, tuple[Settings, tuple[str, ...]]]:
    escapes = dataclasses.replace(
        SEED,
        require_inference_profile=True,
        inference_profile_arn_patterns=(
            "arn:aws:bedrock:*:*:inference-profile/<us&eu>",
            'arn:aws:bedrock:*:*:inference-profile/caf\u00e9\u2028\u2029"quote"\\back',
        ),
        exempted_principal_arns=("arn:aws:iam::*:role/R&D<admin>",),
    )
    all_options = dataclasses.replace(
        SEED,
        global_inference="none",
        require_inference_profile=True,
        guarded_actions=(
            "bedrock:InvokeModel",
            "bedrock:InvokeModelWithResponseStream",
            "bedrock:CreateModelInvocationJob",
        ),
        exempted_actions=("bedrock:InvokeModel", "bedrock:CreateModelInvocationJob"),
        exempted_principal_arns=(
            "arn:aws:iam::*:role/Admin",
            "arn:aws:sts::*:assumed-role/Admin/*",
        ),
    )
    found: dict[str, tuple[Settings, tuple[str, ...]]] = {
        "seed": (SEED, SEED_IDS),
        "empty_permitted_list": (SEED, ()),
        "no_exemptions_one_region": (
            Settings(home_region="us-east-1", allowed_regions=("us-east-1",)),
            ("012345678901",),
        ),
        "global_inference_none": (dataclasses.replace(SEED, global_inference="none"), SEED_IDS),
        "require_inference_profile": (
            dataclasses.replace(SEED, require_inference_profile=True),
            SEED_IDS,
        ),
        "all_options": (all_options, SEED_IDS),
        "escaped_characters": (escapes, SEED_IDS),
    }
    for env in ("local", "staging", "prod"):
        env_dir = repo_root / "envs" / env
        ids = json.loads((env_dir / "accounts.auto.tfvars.json").read_text())
        found[f"env_{env}"] = (load_settings(env_dir), tuple(ids["bedrock_permitted_account_ids"]))
    return found


def hcl(value: object) -> str:
    # JSON literals are HCL literals; only template sequences need escaping.
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def run_block(name: str, settings: Settings, ids: tuple[str, ...]) -> str:
    variables = {
        "home_region": settings.home_region,
        "allowed_regions": list(settings.allowed_regions),
        "bedrock_permitted_account_ids": list(ids),
        "guarded_actions": list(settings.guarded_actions),
        "global_inference": settings.global_inference,
        "require_inference_profile": settings.require_inference_profile,
        "inference_profile_arn_patterns": list(settings.inference_profile_arn_patterns),
        "exempted_actions": list(settings.exempted_actions),
        "exempted_principal_arns": list(settings.exempted_principal_arns),
    }
    lines = "\n".join(f"    {k} = {hcl(v)}" for k, v in variables.items())
    return f"""
run "{name}" {{
  command = plan

  variables {{
{lines}
  }}

  assert {{
    condition     = output.content == file("cases/{name}/content.json")
    error_message = "{name}: the SCP differs from the Python rendering."
  }}

  assert {{
    condition     = jsonencode(output.parameters) == file("cases/{name}/params.json")
    error_message = "{name}: the control parameters differ from the Python rendering."
  }}
}}
"""


def test_python_rendering_equals_terraform_jsonencode(repo_root: Path, tmp_path: Path) -> None:
    all_cases = cases(repo_root)
    (tmp_path / "main.tf").write_text(ROOT % {"modules": repo_root / "modules", "ou_arn": OU_ARN})
    blocks = ['mock_provider "aws" {}\n']
    for name, (settings, ids) in all_cases.items():
        case_dir = tmp_path / "cases" / name
        case_dir.mkdir(parents=True)
        (case_dir / "content.json").write_bytes(render_scp(settings, ids).encode())
        parameters = jsonencode(render_control_parameters(settings))
        (case_dir / "params.json").write_bytes(parameters.encode())
        blocks.append(run_block(name, settings, ids))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "render.tftest.hcl").write_text("".join(blocks))

    tf = Terraform(tmp_path, timeout=600)
    tf.init()
    result = tf.run("test", check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    for name in all_cases:
        assert f'run "{name}"... pass' in result.stdout
    assert f"Success! {len(all_cases)} passed, 0 failed." in result.stdout


def test_escaped_case_really_carries_characters_jsonencode_escapes(repo_root: Path) -> None:
    settings, ids = cases(repo_root)["escaped_characters"]
    content = render_scp(settings, ids)
    for escaped in ("\\u003c", "\\u003e", "\\u0026", "\\u2028", "\\u2029", '\\"', "\\\\"):
        assert escaped in content
    assert "caf\u00e9" in content
