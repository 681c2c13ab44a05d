"""The organization to evaluate: accounts, their OU paths and the SCPs on each level.

Built from a :class:`~regionguard.deployment.Deployment` and the registry's
account placement (:func:`scenario_from_deployment`), or read live from an
AWS Organizations endpoint such as the sandbox (:func:`scenario_from_org`).
SCP evaluation follows "SCP evaluation" in the AWS Organizations user guide:
every level from the root to the account must allow, and a Deny anywhere
on the path wins; ``FullAWSAccess`` is attached to every root, OU and
account, as AWS Organizations does by default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from regionguard import deployment as dep
from regionguard import iamref, local_sandbox
from regionguard.aws import Aws, AwsCallError
from regionguard.controlscp import LANDING_ZONE_SID, render_control_scp, render_landing_zone_deny
from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.evaluator import AccountPath, OrgNode, OrgTree, Policy
from regionguard.orgfacts import OrgFacts, PolicySummary
from regionguard.planfile import Plan
from regionguard.repo import command
from regionguard.rules import statements
from regionguard.scp import decode_scp

__all__ = [
    "CONTROL_SCP_NAME",
    "FULL_AWS_ACCESS",
    "LANDING_ZONE_DENY_NAME",
    "LandingZoneDeny",
    "Scenario",
    "commercial_regions",
    "deployment_from_env",
    "first_tier_from_org",
    "landing_zone_policy",
    "node_policies",
    "read_landing_zone_deny",
    "sandbox_facts",
    "scenario_from_deployment",
    "scenario_from_env",
    "scenario_from_org",
    "scenario_from_plan",
    "targets_without_landing_zone_deny",
]

FULL_AWS_ACCESS = Policy(
    "FullAWSAccess",
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    "p-FullAWSAccess",
)
LANDING_ZONE_DENY_NAME = "aws-guardrails-landing-zone-region-deny"
CONTROL_SCP_NAME = "aws-guardrails-CT.MULTISERVICE.PV.1"
SENTINEL_ACTION = "ec2:RunInstances"
UNSPECIFIED = "unspecified"
# The sandbox answers in every Region; the Organizations API is global.
SANDBOX_REGION = "us-east-1"


def commercial_regions() -> tuple[str, ...]:
    """The Regions of the aws partition, from botocore's endpoint data (offline)."""
    return tuple(sorted(iamref.partition_regions("aws")))


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


def default_actions(env: Environment) -> tuple[str, ...]:
    settings = env.settings
    actions = list(dict.fromkeys([*settings.guarded_actions, *settings.exempted_actions]))
    return (*actions, SENTINEL_ACTION)


def ou_policies(item: dep.OuDeployment) -> tuple[Policy, ...]:
    """The SCPs one OU's deployment attaches: this project's, and the control's own."""
    out = [Policy(scp.name, scp.content) for scp in item.scps]
    if item.control is not None:
        content = render_control_scp(
            item.control.get("AllowedRegions", ()),
            item.control.get("ExemptedActions", ()),
            item.control.get("ExemptedPrincipalArns", ()),
        )
        out.append(Policy(CONTROL_SCP_NAME, content))
    return tuple(out)


def landing_zone_policy(env: Environment) -> Policy:
    """The landing-zone Region deny as the environment's governed Regions make it."""
    return Policy(LANDING_ZONE_DENY_NAME, render_landing_zone_deny(env.settings.allowed_regions))


def node_policies(
    item: dep.OuDeployment | None,
    *,
    first_tier: bool,
    landing_zone_deny: Policy | tuple[Policy, ...] | None = None,
) -> tuple[Policy, ...]:
    """The SCPs on one OU: FullAWSAccess, the landing-zone deny (first tier), the deployment's.

    The landing-zone Region deny comes before this project's SCPs: it
    predates them, and the organization read back (ListPolicies, in the
    sandbox's creation order) lists it first, so a fact's deciding statement
    is the same before and after apply. AWS documents no order of
    ListPolicies; the decision (allow or deny) does not depend on it, only
    which Deny is named when several match.
    """
    policies: tuple[Policy, ...] = (FULL_AWS_ACCESS,)
    if first_tier and landing_zone_deny is not None:
        policies += (
            landing_zone_deny if isinstance(landing_zone_deny, tuple) else (landing_zone_deny,)
        )
    if item is not None:
        policies += ou_policies(item)
    return policies


def scenario_from_deployment(
    env: Environment,
    deployment: dep.Deployment,
    *,
    landing_zone_deny: bool | Mapping[str, tuple[Policy, ...]] = False,
    placement: Mapping[str, tuple[str, ...]] | None = None,
    org_id: str | None = None,
    root_id: str | None = None,
) -> Scenario:
    """The registry's accounts under the OUs of ``deployment``, with its SCPs attached.

    ``placement`` (account id -> OU ids from the first tier down, as AWS
    Organizations has them; see :attr:`regionguard.planfile.Plan.account_placement`)
    places the accounts it names; the others are placed by the registry's
    ``ou``. ``org_id`` makes requests carry ``aws:PrincipalOrgPaths``.
    ``landing_zone_deny``: True adds the landing-zone Region deny (rendered
    with the allowed Regions) to every first-tier OU; a mapping adds the
    policies it holds for a first-tier OU's id or name (as
    :attr:`LandingZoneDeny.by_ou` reads them from the organization).
    """
    deployment.check_known()
    root = OrgNode("root", root_id or "r-root", "Root", (FULL_AWS_ACCESS,))
    lz_deny = landing_zone_policy(env) if landing_zone_deny else None
    nodes: dict[str, OrgNode] = {}

    def node_for(key: str, ou_id: str | None, name: str, depth: int) -> OrgNode:
        node = nodes.get(key)
        if node is None:
            item = deployment.find(ou_id, name if depth == 0 else None)
            if item is not None:
                ou_id = item.ou.id or ou_id
            if depth == 0 and isinstance(landing_zone_deny, Mapping):
                read = landing_zone_deny.get(ou_id or "", landing_zone_deny.get(name, ()))
            else:
                read = (lz_deny,) if lz_deny is not None else ()
            policies = node_policies(item, first_tier=depth == 0, landing_zone_deny=read)
            node = OrgNode("ou", ou_id or f"ou:{key}", name, policies)
            nodes[key] = node
        return node

    def ou_chain(path: str) -> tuple[OrgNode, ...]:
        parts = [p for p in path.split("/") if p]
        return tuple(
            node_for("/".join(parts[: d + 1]), None, parts[d], d) for d in range(len(parts))
        )

    def id_chain(ids: tuple[str, ...]) -> tuple[OrgNode, ...]:
        return tuple(
            node_for("id:" + "/".join(ids[: d + 1]), ou_id, names.get(ou_id, ou_id), d)
            for d, ou_id in enumerate(ids)
        )

    names = {item.ou.id: item.ou.name or item.ou.id for item in deployment.ous if item.ou.id}
    placed = placement or {}
    accounts = []
    for account in env.registry.accounts:
        if account.id in placed:
            chain = id_chain(placed[account.id])
        else:
            chain = ou_chain(account.ou) if account.ou else ()
        own = OrgNode("account", account.id, account.name, (FULL_AWS_ACCESS,))
        accounts.append(AccountPath(account.id, account.name, (root, *chain, own)))
    management = env.management_account_id
    if management and management not in {a.account_id for a in accounts}:
        own = OrgNode("account", management, "management", (FULL_AWS_ACCESS,))
        accounts.append(AccountPath(management, "management", (root, own)))
    return Scenario(
        OrgTree(tuple(accounts), management, org_id),
        deployment.source,
        dict(env.account_names),
        env.deployed_ids,
        tuple(env.settings.allowed_regions),
        default_actions(env),
    )


def scenario_from_env(env: Environment, *, landing_zone_deny: bool = False) -> Scenario:
    """What the environment's settings and committed tfvars deploy, on the registry's accounts.

    The first-tier OUs are known by name from the registry; a target
    selector that is an OU id needs the organization, read from the running
    local sandbox when there is one.
    """
    deployment = deployment_from_env(env)
    return scenario_from_deployment(env, deployment, landing_zone_deny=landing_zone_deny)


def deployment_from_env(env: Environment) -> dep.Deployment:
    """What the environment deploys on the first-tier OUs the registry (or the sandbox) names."""
    try:
        return dep.from_environment(env, dep.known_first_tier(env))
    except dep.UnknownOuIds:
        endpoint = local_sandbox.running_endpoint(env)
        if endpoint is None:
            raise
        ous = first_tier_from_org(sandbox_facts(endpoint))
        return dep.from_environment(env, ous, complete=True)


def scenario_from_plan(
    env: Environment,
    plan: Plan,
    side: str,
    *,
    landing_zone_deny: bool | Mapping[str, tuple[Policy, ...]] = False,
) -> Scenario:
    """What a saved plan leaves on each OU (``before`` or ``after``), on the registry's accounts."""
    return scenario_from_deployment(
        env,
        dep.from_plan(plan, side),
        landing_zone_deny=landing_zone_deny,
        placement=plan.account_placement,
        org_id=plan.org_id,
        root_id=plan.root_id,
    )


# ---------------------------------------------------------------- a live organization


def first_tier_from_org(facts: OrgFacts) -> tuple[dep.OrgUnit, ...]:
    """The first-tier OUs (id and name) of the organization behind ``facts``."""
    try:
        return tuple(dep.OrgUnit(ou.id, ou.name) for ou in facts.first_tier)
    except AwsCallError as exc:
        raise InputError(f"{_where(facts)}: cannot read the organization ({exc})") from exc


def _where(facts: OrgFacts) -> str:
    endpoint = facts.aws.endpoint
    return f"sandbox at {endpoint}" if endpoint else f"AWS Organizations ({facts.aws.region})"


def scenario_from_org(
    facts: OrgFacts, env: Environment | None = None, *, landing_zone_deny: bool = True
) -> Scenario:
    """The organization as AWS Organizations (or the sandbox) has it, read through ``facts``.

    ``landing_zone_deny`` False: as it will be once the landing-zone Region
    deny is turned off (migration step 4): its statements (Sid
    ``GRREGIONDENY``) taken out of Control Tower's SCPs.
    """
    contents: dict[str, Policy | None] = {}

    def policies_of(target_id: str) -> tuple[Policy, ...]:
        out = []
        for summary in facts.scps_of(target_id):
            if summary.id not in contents:
                contents[summary.id] = _policy(facts, summary, landing_zone_deny)
            policy = contents[summary.id]
            if policy is not None:
                out.append(policy)
        return tuple(out)

    try:
        organization = facts.organization
        root = OrgNode("root", organization.root_id, "Root", policies_of(organization.root_id))
        accounts: list[AccountPath] = []
        names: dict[str, str] = {}
        stack: list[tuple[str, tuple[OrgNode, ...]]] = [(root.node_id, (root,))]
        while stack:
            parent, chain = stack.pop()
            for acct in facts.accounts_under(parent):
                node = OrgNode("account", acct.id, acct.name, policies_of(acct.id))
                accounts.append(AccountPath(acct.id, acct.name, (*chain, node)))
                names[acct.id] = acct.name
            for ou in facts.children(parent):
                node = OrgNode("ou", ou.id, ou.name, policies_of(ou.id))
                stack.append((ou.id, (*chain, node)))
    except AwsCallError as exc:
        hint = f"; start it with `{command('sandbox up')}`" if facts.aws.endpoint else ""
        raise InputError(f"{_where(facts)}: cannot read the organization ({exc}){hint}") from exc
    accounts.sort(key=lambda a: a.account_id)
    permitted: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    actions: tuple[str, ...] = (SENTINEL_ACTION,)
    if env is not None:
        permitted = env.deployed_ids
        allowed = tuple(env.settings.allowed_regions)
        actions = default_actions(env)
    source = (
        f"read from the sandbox at {facts.aws.endpoint}"
        if facts.aws.endpoint
        else f"read from AWS Organizations ({facts.aws.region})"
    )
    if not landing_zone_deny:
        source += ", without the landing-zone Region deny (after migration step 4)"
    return Scenario(
        OrgTree(tuple(accounts), organization.management_account_id, organization.id),
        source,
        names,
        permitted,
        allowed,
        actions,
    )


def _policy(facts: OrgFacts, summary: PolicySummary, landing_zone_deny: bool) -> Policy | None:
    """The SCP as read; without ``landing_zone_deny``, its GRREGIONDENY statements left out.

    AWS documents that turning the landing-zone Region deny off stops the
    control, not how Control Tower rewrites the ``aws-guardrails-*`` SCP that
    carried it; the model keeps that SCP's other statements, and drops an
    SCP left with none.
    """
    content = facts.policy_content(summary.id)
    if landing_zone_deny or not facts.is_landing_zone_region_deny(summary):
        return Policy(summary.name, content, summary.id)
    kept = _statements_of(content, keep_landing_zone_deny=False)
    if not kept:
        return None
    return Policy(summary.name, _with_statements(content, kept), summary.id)


def _statements_of(content: str, *, keep_landing_zone_deny: bool) -> list[object]:
    document = decode_scp(content)  # readable: is_landing_zone_region_deny decoded it
    return [
        s
        for s in statements(document)
        if (isinstance(s, dict) and s.get("Sid") == LANDING_ZONE_SID) == keep_landing_zone_deny
    ]


def _with_statements(content: str, kept: list[object]) -> str:
    document = dict(decode_scp(content))
    document["Statement"] = kept
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class LandingZoneDeny:
    """Which first-tier OUs carry the landing-zone Region deny (Sid GRREGIONDENY), as read.

    ``policies`` holds, per OU id, the deny's statements as Control Tower
    attached them (the other statements of its SCP left out), so that the
    organization right after an apply is evaluated with the governed Regions
    the landing zone really has. ``unreadable`` says why it could not be read;
    the deny is then assumed on every first-tier OU (fail closed: a fact that
    needs it off is not reported as holding).
    """

    ous: Mapping[str, str]  # OU id -> name
    policies: Mapping[str, tuple[Policy, ...]]
    unreadable: str | None = None

    @property
    def on(self) -> bool:
        return bool(self.ous) or self.unreadable is not None

    @property
    def by_ou(self) -> bool | Mapping[str, tuple[Policy, ...]]:
        """What :func:`scenario_from_plan` adds: per first-tier OU id and name, or True."""
        if self.unreadable is not None:
            return True
        out = dict(self.policies)
        out.update({self.ous[ou_id]: p for ou_id, p in self.policies.items()})
        return out

    def label(self) -> str:
        if self.unreadable is not None:
            return f"every first-tier OU (assumed: {self.unreadable})"
        return ", ".join(sorted(self.ous.values()))


def read_landing_zone_deny(facts: OrgFacts) -> LandingZoneDeny:
    """The landing-zone Region deny of every first-tier OU; its ``unreadable`` says why not."""
    try:
        first_tier = facts.first_tier
        ous: dict[str, str] = {}
        policies: dict[str, tuple[Policy, ...]] = {}
        for ou in first_tier:
            found = facts.landing_zone_region_deny_scps(ou.id)
            if not found:
                continue
            ous[ou.id] = ou.name
            policies[ou.id] = tuple(
                Policy(
                    p.name,
                    _with_statements(
                        facts.policy_content(p.id),
                        _statements_of(facts.policy_content(p.id), keep_landing_zone_deny=True),
                    ),
                    p.id,
                )
                for p in found
            )
    except (AwsCallError, InputError) as exc:
        return LandingZoneDeny({}, {}, str(exc))
    return LandingZoneDeny(ous, policies)


def targets_without_landing_zone_deny(env: Environment, facts: OrgFacts) -> tuple[str, ...]:
    """Names of the environment's target OUs that do not carry the landing-zone Region deny.

    The targets as the settings select them from the first-tier OUs (the
    recorded unregistered ones left out), read with the calls of the apply
    role: ListRoots, ListOrganizationalUnitsForParent, ListPolicies,
    DescribePolicy of Control Tower's SCPs, ListTargetsForPolicy of those
    carrying the deny. AwsCallError or InputError when they cannot be read.
    """
    settings = env.settings
    ous = [dep.OrgUnit(ou.id, ou.name) for ou in facts.first_tier]
    selection = dep.select_targets(
        ous, settings.target_ou_include, settings.target_ou_exclude, env.unregistered_ous
    )
    return tuple(
        ou.name or ou.label()
        for ou in selection.targets
        if not facts.landing_zone_region_deny_scps(ou.id or "")
    )


def sandbox_facts(endpoint: str) -> OrgFacts:
    """The organization of the sandbox at ``endpoint``, to be read through :class:`OrgFacts`."""
    return OrgFacts(Aws(SANDBOX_REGION, endpoint))
