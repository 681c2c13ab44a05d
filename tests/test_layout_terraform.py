"""The Python layout rule (regionguard.layout) equals the module's, on the same inputs.

A copy of modules/bedrock-inference-scp runs as a root with
``mock_provider "aws"``; one ``terraform test`` run per case asserts that the
module's ``layout``, ``descend_ou_ids``, ``documents`` and ``layout_reason``
outputs equal what :func:`regionguard.layout.compute_layout` computes
(written to a JSON file per case).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from conftest import copy_module, terraform_test
from regionguard.layout import Descended, compute_layout
from regionguard.settings import Settings

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


def run_block(name: str, expected: Path, case: Case) -> str:
    settings, permitted, targets, under, descended = case
    variables = {
        "allowed_regions": list(settings.allowed_regions),
        "layout": settings.scp_layout,
        "size_limit": settings.scp_size_limit,
        "bedrock_permitted_account_ids": list(permitted),
        "target_ids": list(targets),
        "ou_account_ids": under,
        "descended": {
            t: {"direct_account_ids": list(d.direct_account_ids), "children": dict(d.children)}
            for t, d in descended.items()
        },
        "org_path_prefix": PREFIX,
    }
    lines = [f'run "{name}" {{', "  command = plan", "  variables {"]
    lines += [f"    {k} = {json.dumps(v)}" for k, v in variables.items()]
    lines += [
        "  }",
        "  assert {",
        "    condition     = jsonencode({ layout = output.layout, descend = "
        "output.descend_ou_ids, documents = output.documents, reason = output.layout_reason }) == "
        f'jsonencode(jsondecode(file("{expected}")))',
        f'    error_message = "{name}: the module\'s layout differs from regionguard.layout"',
        "  }",
        "}",
        "",
    ]
    return "\n".join(lines)


def test_python_layout_equals_the_module(tmp_path: Path) -> None:
    module = copy_module(tmp_path, "bedrock-inference-scp")
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
        path = module / f"{name}.json"
        path.write_text(json.dumps(expected))
        blocks.append(run_block(name, path, case))
    # The cases reach every branch: single, per_ou, and per_ou with a descended target.
    assert kinds == {("single", False), ("per_ou", False), ("per_ou", True)}
    (module / "tests" / "layout.tftest.hcl").write_text("\n".join(blocks))
    terraform_test(module, list(CASES))
