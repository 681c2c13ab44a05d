"""The organization and SCPs to evaluate, from an environment, a plan JSON or the sandbox.

- From an environment: the tree comes from the registry (each account's
  ``ou`` path under the root) and the SCPs are rendered from the settings and
  the generated ``accounts.auto.tfvars.json``, exactly as Terraform sends
  them: the Bedrock inference SCP and the control's SCP (CT.MULTISERVICE.PV.1,
  rendered from its template) on every targeted first-tier OU, and
  ``FullAWSAccess`` on the root, every OU and every account, as AWS
  Organizations attaches it by default.
- From a plan JSON (``terraform show -json``): the same tree, with the SCP
  content of ``module.bedrock_inference_scp.aws_organizations_policy.this``
  and the parameters of ``module.region_deny_control.aws_controltower_control.this[*]``
  taken from the plan, before and after the change.
- From the sandbox: the tree, the attachments and the policy contents read
  through the Organizations API, as they are.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regionguard.controlscp import render_control_scp
from regionguard.errors import InputError
from regionguard.evaluator import AccountPath, OrgNode, OrgTree, Policy
from regionguard.registry import Registry, load_registry
from regionguard.render import render_scp
from regionguard.settings import Settings, load_settings

FULL_AWS_ACCESS = Policy(
    "FullAWSAccess",
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    "p-FullAWSAccess",
)
LANDING_ZONE_DENY_NAME = "aws-guardrails-landing-zone-region-deny"
CONTROL_SCP_NAME = "aws-guardrails-CT.MULTISERVICE.PV.1"
SENTINEL_ACTION = "ec2:RunInstances"
UNSPECIFIED = "unspecified"
TFVARS_FILE = "accounts.auto.tfvars.json"
REGISTRY_FILE = "accounts.yaml"

SCP_ADDRESS = "module.bedrock_inference_scp.aws_organizations_policy.this"
CONTROL_PREFIX = "module.region_deny_control.aws_controltower_control.this"


@functools.cache
def commercial_regions() -> tuple[str, ...]:
    """The Regions of the aws partition, from botocore's endpoint data (offline)."""
    import boto3

    regions: list[str] = boto3.session.Session().get_available_regions("ec2")
    return tuple(sorted(regions))


@dataclass(frozen=True)
class PolicySet:
    """What the environment puts on each targeted OU: the SCP and the control's parameters.

    ``scp`` is the Bedrock inference SCP's content (None when it is absent);
    ``control`` maps AllowedRegions / ExemptedActions / ExemptedPrincipalArns
    to their lists (None when the control is not enabled).
    """

    scp: str | None
    control: Mapping[str, tuple[str, ...]] | None
    scp_name: str = "bedrock-cross-region-inference"

    def policies(self) -> tuple[Policy, ...]:
        out = []
        if self.scp is not None:
            out.append(Policy(self.scp_name, self.scp))
        if self.control is not None:
            content = render_control_scp(
                self.control.get("AllowedRegions", ()),
                self.control.get("ExemptedActions", ()),
                self.control.get("ExemptedPrincipalArns", ()),
            )
            out.append(Policy(CONTROL_SCP_NAME, content))
        return tuple(out)


@dataclass(frozen=True)
class Scenario:
    """An organization to evaluate, with the names and defaults the commands show."""

    org: OrgTree
    source: str
    account_names: Mapping[str, str]
    permitted: tuple[str, ...]
    allowed_regions: tuple[str, ...]
    actions: tuple[str, ...]
    regions: tuple[str, ...] = field(default_factory=lambda: (*commercial_regions(), UNSPECIFIED))

    def account_label(self, account_id: str) -> str:
        name = self.account_names.get(account_id)
        return f"{name} ({account_id})" if name else account_id


# ---------------------------------------------------------------- environment


def permitted_ids(env_dir: Path, registry: Registry, today: datetime.date) -> tuple[str, ...]:
    """The permitted accounts Terraform deploys: the generated tfvars, else the registry."""
    path = env_dir / TFVARS_FILE
    if not path.is_file():
        return registry.permitted_ids(today)
    try:
        data = json.loads(path.read_text("utf-8"))
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); run `make tfvars` again") from exc
    ids = data.get("bedrock_permitted_account_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InputError(
            f"{path}: bedrock_permitted_account_ids must be a list of account id strings; "
            "run `make tfvars` again"
        )
    return tuple(ids)


def env_policy_set(settings: Settings, permitted: Sequence[str]) -> PolicySet:
    control: dict[str, tuple[str, ...]] = {"AllowedRegions": tuple(settings.allowed_regions)}
    if settings.exempted_actions:
        control["ExemptedActions"] = tuple(settings.exempted_actions)
    if settings.exempted_principal_arns:
        control["ExemptedPrincipalArns"] = tuple(settings.exempted_principal_arns)
    return PolicySet(render_scp(settings, permitted), control, settings.scp_name)


def _targeted(settings: Settings, ou_name: str) -> bool:
    include, exclude = settings.target_ou_include, settings.target_ou_exclude
    return (not include or ou_name in include) and ou_name not in exclude


def build_org(
    settings: Settings,
    registry: Registry,
    policy_set: PolicySet,
    *,
    management_account_id: str | None,
    landing_zone_deny: bool = False,
    targets: Sequence[str] | None = None,
) -> OrgTree:
    """The organization the registry describes, with the policies the environment attaches."""
    root = OrgNode("root", "r-root", "Root", (FULL_AWS_ACCESS,))
    deployed = policy_set.policies()
    lz_deny = Policy(
        LANDING_ZONE_DENY_NAME, render_control_scp(list(settings.allowed_regions), [], [])
    )
    nodes: dict[str, OrgNode] = {}

    def ou_chain(path: str) -> tuple[OrgNode, ...]:
        parts = [p for p in path.split("/") if p]
        chain = []
        for depth in range(len(parts)):
            key = "/".join(parts[: depth + 1])
            node = nodes.get(key)
            if node is None:
                policies: tuple[Policy, ...] = (FULL_AWS_ACCESS,)
                if depth == 0:
                    is_target = (
                        parts[0] in targets
                        if targets is not None
                        else _targeted(settings, parts[0])
                    )
                    if is_target:
                        policies += deployed
                    if landing_zone_deny:
                        policies += (lz_deny,)
                node = OrgNode("ou", f"ou:{key}", parts[depth], policies)
                nodes[key] = node
            chain.append(node)
        return tuple(chain)

    accounts = []
    for account in registry.accounts:
        chain = ou_chain(account.ou) if account.ou else ()
        own = OrgNode("account", account.id, account.name, (FULL_AWS_ACCESS,))
        accounts.append(AccountPath(account.id, account.name, (root, *chain, own)))
    if management_account_id and management_account_id not in {a.account_id for a in accounts}:
        own = OrgNode("account", management_account_id, "management", (FULL_AWS_ACCESS,))
        accounts.append(AccountPath(management_account_id, "management", (root, own)))
    return OrgTree(tuple(accounts), management_account_id)


def management_account(env_dir: Path, settings: Settings) -> str | None:
    """The management account: the settings' management_account_id, else the sandbox's."""
    value = settings.extra.get("management_account_id")
    if isinstance(value, str):
        return value
    if (env_dir / "sandbox.yaml").is_file():
        from regionguard.sandbox.settings import load_settings as load_sandbox_settings

        return load_sandbox_settings(env_dir).management_account_id
    return None


def default_actions(settings: Settings) -> tuple[str, ...]:
    actions = list(dict.fromkeys([*settings.guarded_actions, *settings.exempted_actions]))
    return (*actions, SENTINEL_ACTION)


def load_env(env_dir: Path) -> tuple[Settings, Registry]:
    settings = load_settings(env_dir)
    registry = load_registry(env_dir / REGISTRY_FILE)
    return settings, registry


def scenario_from_env(
    env_dir: Path,
    *,
    landing_zone_deny: bool = False,
    today: datetime.date | None = None,
    policy_set: PolicySet | None = None,
    source: str | None = None,
    targets: Sequence[str] | None = None,
) -> Scenario:
    settings, registry = load_env(env_dir)
    permitted = permitted_ids(env_dir, registry, today or datetime.date.today())
    policies = policy_set or env_policy_set(settings, permitted)
    org = build_org(
        settings,
        registry,
        policies,
        management_account_id=management_account(env_dir, settings),
        landing_zone_deny=landing_zone_deny,
        targets=targets,
    )
    names = {a.id: a.name for a in registry.accounts}
    return Scenario(
        org,
        source or f"rendered from {env_dir}",
        names,
        permitted,
        tuple(settings.allowed_regions),
        default_actions(settings),
    )


# ---------------------------------------------------------------- plan JSON


@dataclass(frozen=True)
class PlanPolicies:
    before: PolicySet
    after: PolicySet
    targets: tuple[str, ...] | None


def _parameters(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for item in raw or []:
        key, value = item.get("key"), item.get("value")
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except ValueError as exc:
            raise InputError(f"{where}: parameter {key} is not JSON ({exc})") from exc
        values = parsed if isinstance(parsed, list) else [parsed]
        out[str(key)] = tuple(str(v) for v in values)
    return out


def plan_policies(plan_path: Path) -> PlanPolicies:
    """The SCP content and control parameters before and after a saved plan."""
    try:
        plan = json.loads(plan_path.read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"{plan_path}: cannot read the plan JSON ({exc.strerror})") from exc
    except ValueError as exc:
        raise InputError(
            f"{plan_path}: not JSON; write it with `terraform show -json tfplan`"
        ) from exc
    changes = plan.get("resource_changes") if isinstance(plan, dict) else None
    if not isinstance(changes, list):
        raise InputError(
            f"{plan_path}: no resource_changes; pass the output of `terraform show -json tfplan`"
        )
    scp: dict[str, str | None] = {"before": None, "after": None}
    controls: dict[str, list[dict[str, tuple[str, ...]]]] = {"before": [], "after": []}
    found = False
    for change in changes:
        address = str(change.get("address", ""))
        body = change.get("change") or {}
        for side in ("before", "after"):
            state = body.get(side)
            if not isinstance(state, dict):
                continue
            if address == SCP_ADDRESS:
                found = True
                content = state.get("content")
                scp[side] = content if isinstance(content, str) else None
            elif address.startswith(CONTROL_PREFIX):
                found = True
                controls[side].append(
                    _parameters(state.get("parameters"), f"{plan_path}: {address}")
                )
    if not found:
        raise InputError(
            f"{plan_path}: neither {SCP_ADDRESS} nor {CONTROL_PREFIX}[*] is in the plan; "
            "is this a plan of one of the environments?"
        )
    sets = {}
    for side in ("before", "after"):
        distinct = {json.dumps(c, sort_keys=True) for c in controls[side]}
        if len(distinct) > 1:
            raise InputError(
                f"{plan_path}: the control's parameters differ between OUs ({side} the change); "
                "the environments give every OU the same parameters"
            )
        sets[side] = PolicySet(scp[side], controls[side][0] if controls[side] else None)
    targets = None
    outputs = (plan.get("planned_values") or {}).get("outputs") or {}
    value = (outputs.get("targets") or {}).get("value")
    if isinstance(value, dict):
        targets = tuple(str(v) for v in value.values())
    return PlanPolicies(sets["before"], sets["after"], targets)


# ---------------------------------------------------------------- sandbox


def scenario_from_sandbox(endpoint: str, env_dir: Path | None = None) -> Scenario:
    """The organization as the sandbox (or any Organizations endpoint) has it."""
    import boto3
    import botocore.exceptions

    client = boto3.client(
        "organizations",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    contents: dict[str, Policy] = {}

    def policies_of(target_id: str) -> tuple[Policy, ...]:
        out = []
        pages = client.get_paginator("list_policies_for_target").paginate(
            TargetId=target_id, Filter="SERVICE_CONTROL_POLICY"
        )
        for page in pages:
            for summary in page["Policies"]:
                pid = summary["Id"]
                if pid not in contents:
                    described = client.describe_policy(PolicyId=pid)["Policy"]
                    contents[pid] = Policy(summary["Name"], described["Content"], pid)
                out.append(contents[pid])
        return tuple(out)

    try:
        management = client.describe_organization()["Organization"]["MasterAccountId"]
        root_summary = client.list_roots()["Roots"][0]
        root = OrgNode("root", root_summary["Id"], "Root", policies_of(root_summary["Id"]))
        accounts: list[AccountPath] = []
        names: dict[str, str] = {}
        stack: list[tuple[str, tuple[OrgNode, ...]]] = [(root.node_id, (root,))]
        while stack:
            parent, chain = stack.pop()
            for page in client.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
                for acct in page["Accounts"]:
                    node = OrgNode("account", acct["Id"], acct["Name"], policies_of(acct["Id"]))
                    accounts.append(AccountPath(acct["Id"], acct["Name"], (*chain, node)))
                    names[acct["Id"]] = acct["Name"]
            for page in client.get_paginator("list_organizational_units_for_parent").paginate(
                ParentId=parent
            ):
                for ou in page["OrganizationalUnits"]:
                    node = OrgNode("ou", ou["Id"], ou["Name"], policies_of(ou["Id"]))
                    stack.append((ou["Id"], (*chain, node)))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise InputError(
            f"sandbox at {endpoint}: cannot read the organization ({exc}); "
            "start it with `regionguard sandbox up`"
        ) from exc
    accounts.sort(key=lambda a: a.account_id)
    permitted: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    actions: tuple[str, ...] = (SENTINEL_ACTION,)
    if env_dir is not None:
        settings, registry = load_env(env_dir)
        permitted = permitted_ids(env_dir, registry, datetime.date.today())
        allowed = tuple(settings.allowed_regions)
        actions = default_actions(settings)
    return Scenario(
        OrgTree(tuple(accounts), management),
        f"read from the sandbox at {endpoint}",
        names,
        permitted,
        allowed,
        actions,
    )
