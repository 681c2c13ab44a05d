"""examples/: plain Terraform roots over the modules, checked with the real terraform and provider.

Each example is copied with modules/ (its ``source`` is ``../../modules/...``)
so that ``terraform init`` writes nothing into the repository. Every example
must pass ``terraform fmt -check`` and ``terraform validate``; the complete
one is also planned and applied on the sandbox, with envs/local's provider
configuration as an override and the sandbox's address in Terraform's
environment (``AWS_ENDPOINT_URL_<SERVICE>``), as a user without the Python
tooling would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import lock_like_envs_local, plugin_cache_entries
from regionguard.aws import sandbox_client
from regionguard.local_sandbox import terraform_environment
from regionguard.sandbox.server import SandboxApp
from regionguard.terraform import IsFlagged, Terraform

pytestmark = pytest.mark.terraform

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (REPO_ROOT / "examples").iterdir() if p.is_dir())
IGNORE = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "tfplan*")
GUARDED = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def copy_example(dest: Path, name: str) -> Path:
    shutil.copytree(REPO_ROOT / "modules", dest / "modules", ignore=IGNORE)
    shutil.copytree(REPO_ROOT / "examples" / name, dest / "examples" / name, ignore=IGNORE)
    return lock_like_envs_local(dest / "examples" / name)


def test_there_is_an_example_per_module_and_a_complete_one() -> None:
    modules = sorted(p.parent.name for p in (REPO_ROOT / "modules").glob("*/versions.tf"))
    assert sorted([*modules, "complete"]) == EXAMPLES
    for name in EXAMPLES:
        example = REPO_ROOT / "examples" / name
        assert {"README.md", "main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= {
            p.name for p in example.iterdir()
        }, name


def test_the_examples_are_formatted() -> None:
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", "examples"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_initialises_and_validates(name: str, tmp_path: Path) -> None:
    tf = Terraform(copy_example(tmp_path, name), timeout=300)
    cache = plugin_cache_entries()
    tf.init(backend=False)
    assert plugin_cache_entries() == cache, "init wrote the shared plugin cache"
    result = tf.run("validate", json=IsFlagged)
    report = json.loads(result.stdout)
    assert (report["valid"], report["error_count"], report["warning_count"]) == (True, 0, 0)


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_uses_the_modules_by_relative_source(name: str) -> None:
    text = (REPO_ROOT / "examples" / name / "main.tf").read_text(encoding="utf-8")
    sources = sorted(
        line.split("=", 1)[1].strip().strip('"')
        for line in text.splitlines()
        if line.strip().startswith("source ")
    )
    expected = {
        "complete": ["../../modules/bedrock-inference-scp", "../../modules/region-deny-control"],
    }.get(name, [f"../../modules/{name}"])
    assert sources == expected


@pytest.fixture
def organization(sandbox_server: tuple[SandboxApp, str]) -> Iterator[tuple[str, Any]]:
    _app, endpoint = sandbox_server
    client = sandbox_client("organizations", endpoint)
    yield endpoint, client


@pytest.mark.sandbox
def test_the_complete_example_plans_and_applies_on_the_sandbox(
    tmp_path: Path, organization: tuple[str, Any]
) -> None:
    endpoint, org = organization
    example = copy_example(tmp_path, "complete")
    # envs/local's provider configuration, which refuses every address but
    # loopback, as an override of the example's; Terraform's environment
    # points the sandbox's services at it.
    local = (REPO_ROOT / "envs" / "local" / "providers.tf").read_text(encoding="utf-8")
    assert local.startswith('provider "aws" {')
    (example / "sandbox_override.tf").write_text(local)
    (example / "terraform.tfvars.json").write_text(
        json.dumps(
            {
                "home_region": "ap-northeast-1",
                "allowed_regions": ["ap-northeast-1", "us-east-1"],
                "permitted_account_ids": ["100000000001"],
            }
        )
    )
    root = org.list_roots()["Roots"][0]["Id"]
    first_tier = {
        ou["Id"]: ou["Arn"]
        for ou in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    }
    assert len(first_tier) >= 2

    tf = Terraform(example, timeout=600, env=terraform_environment(endpoint, os.environ))
    tf.init()
    assert tf.plan(example / "tfplan") is True
    plan = tf.show_json(example / "tfplan")
    created = sorted(
        rc["address"] for rc in plan["resource_changes"] if rc["change"]["actions"] == ["create"]
    )
    assert created == sorted(
        [
            'module.bedrock_inference_scp.aws_organizations_policy.this["single"]',
            *(
                f'module.bedrock_inference_scp.aws_organizations_policy_attachment.this["{ou}"]'
                for ou in first_tier
            ),
            # Orders the attachments of a layout switch; calls no API.
            "module.bedrock_inference_scp.terraform_data.attachments",
            *(
                f'module.region_deny_control.aws_controltower_control.this["{ou}"]'
                for ou in first_tier
            ),
        ]
    )

    tf.apply(example / "tfplan")
    outputs = tf.output()
    assert outputs["targets"] == first_tier
    assert sorted(outputs["enabled_controls"]) == sorted(first_tier)
    for ou in first_tier:
        attached = org.list_policies_for_target(TargetId=ou, Filter="SERVICE_CONTROL_POLICY")
        assert outputs["scp_id"] in [p["Id"] for p in attached["Policies"]], ou
    content = json.loads(org.describe_policy(PolicyId=outputs["scp_id"])["Policy"]["Content"])
    [statement] = content["Statement"]
    assert statement["Action"] == GUARDED
    assert statement["Condition"]["StringNotEquals"] == {
        "aws:PrincipalAccount": ["100000000001"],
        "aws:RequestedRegion": ["ap-northeast-1", "us-east-1"],
    }
    assert tf.plan() is False
