"""The Python layout rule (regionguard.layout) equals the module's, on the same inputs.

A throwaway root in tmp_path calls modules/bedrock-inference-scp with
``mock_provider "aws"``; one ``terraform test`` run per case asserts that the
module's ``layout``, ``descend_ou_ids`` and ``documents`` outputs equal what
:func:`regionguard.layout.compute_layout` computes (written to a JSON file
per case).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from regionguard.layout import Descended, compute_layout
from regionguard.settings import Settings
from regionguard.terraform import Terraform

pytestmark = pytest.mark.terraform

SEED = Settings(
    home_region="ap-northeast-1",
    allowed_regions=("ap-northeast-1", "us-east-1"),
    exempted_actions=("bedrock:InvokeModel",),
)
PREFIX = "o-abcdefghij/r-ab12/"
T1, T2, C1, C2 = "ou-ab12-aaaaaaa1", "ou-ab12-aaaaaaa2", "ou-ab12-ccccccc1", "ou-ab12-ccccccc2"
IDS = tuple(f"1000000000{i:02d}" for i in range(12))

# name -> (settings, permitted, targets, ou_account_ids, descended)
Case = tuple[Settings, tuple[str, ...], tuple[str, ...], dict[str, list[str]], dict[str, Descended]]
CASES: dict[str, Case] = {
    "auto_single": (SEED, IDS[:3], (T1, T2), {T1: list(IDS[:2]), T2: [IDS[2]]}, {}),
    # One permitted account: the reason says "1 permitted account".
    "auto_single_one": (SEED, IDS[:1], (T1,), {T1: [IDS[0]]}, {}),
    "auto_per_ou": (
        dataclasses.replace(SEED, scp_size_limit=420),
        IDS,
        (T1, T2),
        {T1: list(IDS[:6]), T2: list(IDS[6:])},
        {},
    ),
    "per_ou_descended": (
        dataclasses.replace(SEED, scp_size_limit=400, scp_layout="per_ou"),
        IDS,
        (T1, T2),
        {T1: list(IDS[:4]), T2: list(IDS[4:])},
        {T2: Descended((IDS[4],), {C1: tuple(IDS[5:8]), C2: tuple(IDS[8:])})},
    ),
    "single_forced": (
        dataclasses.replace(SEED, scp_size_limit=400, scp_layout="single"),
        IDS,
        (T1,),
        {},
        {},
    ),
}

ROOT = """\
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "layout" { type = string }
variable "size_limit" { type = number }
variable "permitted" { type = list(string) }
variable "targets" { type = set(string) }
variable "ou_account_ids" { type = map(list(string)) }
variable "descended" {
  type = map(object({ direct_account_ids = list(string), children = map(list(string)) }))
}

module "scp" {
  source                        = "%(modules)s/bedrock-inference-scp"
  allowed_regions               = %(regions)s
  bedrock_permitted_account_ids = var.permitted
  target_ids                    = var.targets
  layout                        = var.layout
  size_limit                    = var.size_limit
  ou_account_ids                = var.ou_account_ids
  descended                     = var.descended
  org_path_prefix               = "%(prefix)s"
}

output "layout" { value = module.scp.layout }
output "descend_ou_ids" { value = module.scp.descend_ou_ids }
output "documents" { value = module.scp.documents }
output "reason" { value = module.scp.layout_reason }
"""


def run_block(name: str, expected: Path, case: Case) -> str:
    settings, permitted, targets, under, descended = case
    variables = {
        "layout": settings.scp_layout,
        "size_limit": settings.scp_size_limit,
        "permitted": list(permitted),
        "targets": list(targets),
        "ou_account_ids": under,
        "descended": {
            t: {"direct_account_ids": list(d.direct_account_ids), "children": dict(d.children)}
            for t, d in descended.items()
        },
    }
    lines = [f'run "{name}" {{', "  command = plan", "  variables {"]
    lines += [f"    {k} = {json.dumps(v)}" for k, v in variables.items()]
    lines += [
        "  }",
        "  assert {",
        "    condition     = jsonencode({ layout = output.layout, descend = "
        "output.descend_ou_ids, documents = output.documents, reason = output.reason }) == "
        f'jsonencode(jsondecode(file("{expected}")))',
        f'    error_message = "{name}: the module\'s layout differs from regionguard.layout"',
        "  }",
        "}",
        "",
    ]
    return "\n".join(lines)


def test_python_layout_equals_the_module(repo_root: Path, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        ROOT
        % {
            "modules": repo_root / "modules",
            "regions": json.dumps(list(SEED.allowed_regions)),
            "prefix": PREFIX,
        }
    )
    (tmp_path / "tests").mkdir()
    blocks = ['mock_provider "aws" {}\n']
    kinds = set()
    for name, case in CASES.items():
        settings, permitted, targets, under, descended = case
        layout = compute_layout(settings, permitted, targets, under, descended, PREFIX)
        kinds.add((layout.kind, bool(layout.descended)))
        expected = {
            "descend": list(layout.descended),
            "documents": {
                g.key: {"account_count": len(g.account_ids), "content": g.content, "name": g.name}
                for g in layout.groups
            },
            "layout": layout.kind,
            "reason": layout.reason,
        }
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(expected))
        blocks.append(run_block(name, path, case))
    # The cases reach every branch: single, per_ou, and per_ou with a descended target.
    assert kinds == {("single", False), ("per_ou", False), ("per_ou", True)}
    (tmp_path / "tests" / "layout.tftest.hcl").write_text("\n".join(blocks))
    tf = Terraform(tmp_path, timeout=300)
    tf.init()
    result = tf.run("test", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CASES)} passed, 0 failed" in result.stdout
