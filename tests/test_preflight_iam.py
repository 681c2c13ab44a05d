"""iam/plan-role.json and iam/apply-role.json grant exactly what the code calls.

What Terraform calls is the union, over the resource and data-source types
the modules and envs/_shared use (read from the .tf files, so a new type
without an entry here fails the test), of the API actions the aws provider
5.100 makes for each type (from its source and docs/reference/
controltower-api.md). What preflight calls is recorded by running it against
the sandbox. The plan role runs `terraform plan` and preflight and may take
the S3 lock; the apply role runs `terraform plan` and `terraform apply`.
"""

from __future__ import annotations

import datetime
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest

from regionguard.aws import Aws
from regionguard.environment import Environment
from regionguard.orgfacts import OrgFacts
from regionguard.preflight import run_preflight
from regionguard.sandbox.server import SandboxApp, serve
from regionguard.sandbox.settings import load_settings as load_sandbox
from regionguard.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
TF_FILES = (
    *sorted((REPO_ROOT / "modules").glob("*/main.tf")),
    *sorted((REPO_ROOT / "envs" / "_shared").glob("*.tf")),
)

# The provider itself: allowed_account_ids and the organization data source
# ask who the caller is.
PROVIDER = {"sts:GetCallerIdentity"}

# API actions per type: (read: plan, refresh, import), (write: apply).
CALLS: dict[str, tuple[set[str], set[str]]] = {
    "data.aws_organizations_organization": (
        {
            "organizations:DescribeOrganization",
            "organizations:ListAccounts",
            "organizations:ListRoots",
            "organizations:ListAWSServiceAccessForOrganization",
        },
        set(),
    ),
    "data.aws_organizations_organizational_units": (
        {"organizations:ListOrganizationalUnitsForParent"},
        set(),
    ),
    # The per_ou layout's placement (provider 5.100: the descendant accounts walk
    # the OU tree with ListAccountsForParent and ListOrganizationalUnitsForParent).
    "data.aws_organizations_organizational_unit_descendant_accounts": (
        {
            "organizations:ListAccountsForParent",
            "organizations:ListOrganizationalUnitsForParent",
        },
        set(),
    ),
    "data.aws_organizations_organizational_unit_child_accounts": (
        {"organizations:ListAccountsForParent"},
        set(),
    ),
    "data.aws_controltower_controls": ({"controltower:ListEnabledControls"}, set()),
    "data.aws_organizations_policies": ({"organizations:ListPolicies"}, set()),
    "data.aws_organizations_policy": ({"organizations:DescribePolicy"}, set()),
    "data.aws_organizations_policies_for_target": (
        {"organizations:ListPoliciesForTarget"},
        set(),
    ),
    "resource.aws_organizations_policy": (
        {"organizations:DescribePolicy", "organizations:ListTagsForResource"},
        {
            "organizations:CreatePolicy",
            "organizations:UpdatePolicy",
            "organizations:DeletePolicy",
            "organizations:TagResource",
            "organizations:UntagResource",
        },
    ),
    "resource.aws_organizations_policy_attachment": (
        {"organizations:ListTargetsForPolicy"},
        {"organizations:AttachPolicy", "organizations:DetachPolicy"},
    ),
    "resource.aws_controltower_control": (
        {"controltower:GetEnabledControl", "controltower:ListEnabledControls"},
        {
            "controltower:EnableControl",
            "controltower:UpdateEnabledControl",
            "controltower:DisableControl",
            "controltower:GetControlOperation",
        },
    ),
}


def _policy(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((REPO_ROOT / "iam" / name).read_text())
    return document


def _actions(document: dict[str, Any], *, s3: bool) -> set[str]:
    out: set[str] = set()
    for statement in document["Statement"]:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            if action.startswith("s3:") == s3:
                out.add(action)
    return out


def _types_used() -> set[str]:
    used: set[str] = set()
    for path in TF_FILES:
        data = hcl2.loads(path.read_text())
        for kind in ("resource", "data"):
            for block in data.get(kind, []):
                used.update(f"{kind}.{name.strip(chr(34))}" for name in block)
    return used


def _terraform(reads_only: bool) -> set[str]:
    out = set(PROVIDER)
    for read, write in CALLS.values():
        out |= read if reads_only else read | write
    return out


@pytest.fixture(scope="module")
def preflight_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """The IAM actions of every call preflight makes against the sandbox."""
    env = tmp_path_factory.mktemp("iam") / "env"
    env.mkdir()
    for name in ("terraform.tfvars", "accounts.yaml", "variables.tf", "sandbox.yaml"):
        shutil.copy(REPO_ROOT / "envs" / "local" / name, env / name)
    # With the landing-zone Region deny on, preflight also reads the
    # aws-guardrails-* SCPs it finds (DescribePolicy).
    app = SandboxApp(load_sandbox(env, landing_zone_region_deny=True))
    server = serve(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    recorded: set[str] = set()
    original = Aws.call

    def record(self: Aws, service: str, operation: str, **kwargs: Any) -> Any:
        client = self._clients[service]
        api = client.meta.method_to_api_mapping[operation]
        recorded.add(f"{client.meta.service_model.signing_name}:{api}")
        return original(self, service, operation, **kwargs)

    try:
        Aws.call = record  # type: ignore[method-assign]
        settings = load_settings(env)
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        environment = Environment(env, datetime.date(2026, 12, 1))
        checks = run_preflight(environment, OrgFacts(Aws(settings.home_region, endpoint)))
        assert [c.id for c in checks if c.status == "fail"] == ["landing-zone-region-deny"]
        yield recorded
    finally:
        Aws.call = original  # type: ignore[method-assign]
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("name", ["plan-role.json", "apply-role.json"])
def test_the_policy_parses_and_only_allows_named_actions(name: str) -> None:
    document = _policy(name)
    assert document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}
        for action in statement["Action"]:
            assert "*" not in action, f"{name}: {action} is a wildcard"


def test_the_call_table_covers_every_type_the_code_uses() -> None:
    assert _types_used() == set(CALLS)


def test_the_plan_role_allows_exactly_what_plan_and_preflight_call(
    preflight_actions: set[str],
) -> None:
    assert preflight_actions == {
        "sts:GetCallerIdentity",
        "controltower:ListLandingZones",
        "controltower:GetLandingZone",
        "controlcatalog:ListControls",
        "controlcatalog:GetControl",
        "organizations:ListRoots",
        "organizations:ListOrganizationalUnitsForParent",
        "controltower:ListBaselines",
        "controltower:ListEnabledBaselines",
        "organizations:ListPolicies",
        "organizations:ListTargetsForPolicy",
        "organizations:DescribePolicy",
        "controltower:ListEnabledControls",
    }
    assert _actions(_policy("plan-role.json"), s3=False) == _terraform(True) | preflight_actions


def test_the_apply_role_allows_exactly_what_plan_and_apply_call() -> None:
    assert _actions(_policy("apply-role.json"), s3=False) == _terraform(False)


def test_the_plan_role_reads_the_state_and_takes_the_lock_but_never_writes_the_state() -> None:
    statements = {s["Sid"]: s for s in _policy("plan-role.json")["Statement"]}
    assert statements["ReadState"]["Action"] == ["s3:GetObject"]
    assert statements["TakeStateLock"]["Resource"].endswith(".tfstate.tflock")
    assert sorted(statements["TakeStateLock"]["Action"]) == [
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]
    writes = [
        s["Resource"]
        for s in statements.values()
        if "s3:PutObject" in s["Action"] and not s["Resource"].endswith(".tflock")
    ]
    assert writes == []


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_state_resources_match_the_backend_key(env: str) -> None:
    backend = (REPO_ROOT / "envs" / env / "backend.tf").read_text()
    assert f'key          = "regionguard/{env}.tfstate"' in backend
    for name in ("plan-role.json", "apply-role.json"):
        resources = [s["Resource"] for s in _policy(name)["Statement"]]
        assert "arn:aws:s3:::STATE_BUCKET/regionguard/*.tfstate" in resources
