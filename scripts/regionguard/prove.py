"""`regionguard prove`: the guardrail's properties decided for every request, not a sample.

The SCPs in force on each targeted OU (from an environment or a plan, through
the one deployment model and :mod:`regionguard.orgmodel`) become formulas
over a symbolic request (:mod:`regionguard.scpformula`), and z3 decides:

- **P1 closed**: no account outside the permitted list performs an exempted
  action outside the allowed Regions, on any targeted OU.
- **P2 Region deny intact**: outside the allowed Regions every request is
  denied except the documented exemptions.
- **P3 open where intended**: every permitted account can call the exempted
  inference actions through every inference profile, every leg allowed, on
  the OU where it is placed.
- **P4 no widening by surprise** (:func:`diff`): the requests whose
  decision a plan changes, as generalized cubes, each widening listed by the
  plan review or not.

"On any targeted OU" means every place an account can be under one: directly
under it, under each child OU the organization or the SCPs name, and (where
the policies test ``aws:PrincipalOrgPaths``) under an OU created later. The
account there is any 12-digit id, the principal any role, user, root or
federated user of it (service-linked roles aside: SCPs do not affect them),
the Region any Region code or ``unspecified``, the action any IAM action,
the resource any string, with or without an inference profile ARN.

Each counterexample the solver finds is turned into a concrete request and
evaluated by :class:`~regionguard.evaluator.Evaluator`; a disagreement is a
bug and stops the command (exit 3). A question z3 cannot decide within
:data:`SOLVER_TIMEOUT_MS` leaves its property not proven (it fails, and the
note names the place). docs/scp-evaluation.md ("Proof") says what is
modelled.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import z3

from regionguard import deployment as dep
from regionguard import iamref
from regionguard.controlscp import CONTROL_TOWER_ROLE_ARNS, GLOBAL_SERVICE_ACTIONS
from regionguard.environment import Environment
from regionguard.errors import InputError
from regionguard.evaluator import (
    KEY_ACCOUNT,
    KEY_INFERENCE_PROFILE,
    KEY_ORG_PATHS,
    KEY_PRINCIPAL_ARN,
    KEY_REGION,
    AccountPath,
    Evaluator,
    Leg,
    OrgNode,
    OrgTree,
    Policy,
    Request,
    default_principal_arn,
)
from regionguard.orgmodel import (
    FULL_AWS_ACCESS,
    Scenario,
    deployment_from_env,
    landing_zone_policy,
    node_policies,
    scenario_from_deployment,
    scenario_from_plan,
)
from regionguard.planfile import Plan
from regionguard.request import (
    PARTITION,
    PROFILE_ACTIONS,
    UNSPECIFIED,
    Action,
    CallRequest,
    Geography,
    ProfileData,
    RequestError,
    build_request,
    decide,
    default_principal,
    load_profile_data,
    parse_profile,
    profile_operations,
    runtime_operations,
)
from regionguard.request import legs as call_legs
from regionguard.review import Widening, review_plan
from regionguard.rules import is_wildcard, pattern_matches, spared_ou_ids, statements
from regionguard.scp import ScpDecodeError, decode_scp
from regionguard.scpformula import (
    ACTION_SHAPE,
    ANY_STRING,
    IAM_PRINCIPAL_SHAPE,
    MODEL_ID_SHAPE,
    OU_TAIL_SHAPE,
    PROFILE_RESOURCE_SHAPE,
    REGION_CODE_SHAPE,
    REGION_SHAPE,
    SERVICE_LINKED,
    STS_PRINCIPAL_SHAPE,
    AccountSets,
    ArnPart,
    Field,
    PolicyRefused,
    StrTerm,
    StrVar,
    SymRequest,
    Unmodelled,
    allowed,
    arn_like,
    boolean,
    conj,
    disj,
    ite,
    neg,
    patterns_lang,
    policy_keys,
    statements_on,
    to_z3,
)
from regionguard.strcells import Lang, literal, wildcard
from regionguard.words import count, noun

__all__ = [
    "ConcreteDecider",
    "Counterexample",
    "Listed",
    "Placement",
    "ProofError",
    "PropertyResult",
    "Report",
    "Spec",
    "Target",
    "diff",
    "listed_from_plan",
    "listed_from_review",
    "placements",
    "prove",
    "run",
    "spec_from_env",
]

# Seconds z3 may take for one question before the property counts as not proven.
SOLVER_TIMEOUT_MS = 120_000
DEFAULT_ROLE = "role/WorkloadRole"
SAMPLE_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
PREFERRED_ACTIONS = ("ec2:runinstances", "s3:getobject")
SEED_REGIONS = ("us-east-2", "us-west-2", "eu-central-1")
# The OU a counterexample places an account in when it needs an OU nobody created yet.
NEW_OU = "ou-new0-newou000/"

TITLES = {
    "P1": "closed",
    "P2": "Region deny intact",
    "P3": "open where intended",
    "P4": "no widening by surprise",
}


class ProofError(RuntimeError):
    """The solver and the evaluator disagree on a request: a bug in one of them (exit 3)."""


# ---------------------------------------------------------------- what is intended


@dataclass(frozen=True)
class Spec:
    """What the settings and the registry intend, against which the deployment is proven.

    ``permitted``: the accounts whose permit holds on the day (an expired
    permit is not one). ``exempted_principals``: the settings'
    ``exempted_principal_arns``. ``profiles``: the inference profile data
    of the request model; ``global_inference`` ``none`` leaves global
    profiles out of P3, as intended.
    """

    allowed_regions: tuple[str, ...]
    exempted_actions: tuple[str, ...]
    exempted_principals: tuple[str, ...]
    permitted: frozenset[str]
    expired: frozenset[str]
    management_account_id: str | None
    global_inference: str
    profiles: ProfileData
    account_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def inference_actions(self) -> tuple[str, ...]:
        """The exempted actions calls through inference profiles are authorized as."""
        return tuple(
            a
            for a in sorted(PROFILE_ACTIONS)
            if any(pattern_matches(p, a) for p in self.exempted_actions)
        )


def spec_from_env(env: Environment, profiles: ProfileData) -> Spec:
    settings = env.settings
    registry = env.registry
    return Spec(
        tuple(settings.allowed_regions),
        tuple(settings.exempted_actions),
        tuple(settings.exempted_principal_arns),
        frozenset(registry.permitted_ids(env.today)),
        frozenset(a.id for a in registry.expired(env.today)),
        env.management_account_id,
        settings.global_inference,
        profiles,
        dict(env.account_names),
    )


# ---------------------------------------------------------------- where accounts can be


@dataclass(frozen=True)
class Placement:
    """A place an account can be: under ``chain`` (first tier down), or under a new OU below it.

    ``org_prefix`` is aws:PrincipalOrgPaths up to the chain's last OU (None
    when the organization id is not known: then the key is absent, as in
    the evaluator). ``accounts``: the registry's accounts placed exactly here.
    """

    root: OrgNode
    chain: tuple[OrgNode, ...]
    org_prefix: str | None
    accounts: tuple[str, ...] = ()
    below: bool = False
    known_children: tuple[str, ...] = ()

    @property
    def target(self) -> OrgNode:
        return self.chain[0]

    @property
    def key(self) -> tuple[Any, ...]:
        return (tuple(n.node_id for n in self.chain), self.below)

    def levels(self) -> tuple[tuple[Policy, ...], ...]:
        extra = ((FULL_AWS_ACCESS,),) if self.below else ()
        return (
            self.root.policies,
            *(n.policies for n in self.chain),
            *extra,
            (FULL_AWS_ACCESS,),
        )

    def label(self) -> str:
        names = "/".join(n.name or n.node_id for n in self.chain)
        if self.below:
            return f'a new OU below OU "{names}"'
        return f'OU "{names}"'


@dataclass(frozen=True)
class Target:
    """A targeted first-tier OU and the places under it."""

    node: OrgNode
    placements: tuple[Placement, ...]


def _org_prefix(org_id: str | None, root: OrgNode, chain: Sequence[OrgNode]) -> str | None:
    if org_id is None:
        return None
    return "/".join([org_id, root.node_id, *(n.node_id for n in chain)]) + "/"


def _spared(policies: Iterable[Policy]) -> tuple[str, ...]:
    out: list[str] = []
    for policy in policies:
        try:
            document = decode_scp(policy.document)
        except ScpDecodeError as exc:
            # As compile_policy words it for every other SCP prove reads.
            raise InputError(f'SCP "{policy.name}": {exc}') from None
        for statement in statements(document) if isinstance(document, dict) else ():
            if isinstance(statement, dict):
                out.extend(spared_ou_ids(statement))
    return tuple(dict.fromkeys(out))


def _root_of(scenario: Scenario) -> OrgNode:
    for account in scenario.org.accounts:
        if account.levels and account.levels[0].kind == "root":
            return account.levels[0]
    return OrgNode("root", "r-root", "Root", (FULL_AWS_ACCESS,))


def _tree(scenario: Scenario) -> dict[tuple[str, ...], tuple[tuple[OrgNode, ...], list[str]]]:
    """Every OU chain of the scenario (ids from the first tier down) with the accounts on it."""
    chains: dict[tuple[str, ...], tuple[tuple[OrgNode, ...], list[str]]] = {}
    for account in scenario.org.accounts:
        ous = tuple(n for n in account.levels if n.kind == "ou")
        for depth in range(1, len(ous) + 1):
            chain = ous[:depth]
            chains.setdefault(tuple(n.node_id for n in chain), (chain, []))
        if ous:
            chains[tuple(n.node_id for n in ous)][1].append(account.account_id)
    return chains


def placements(
    scenario: Scenario,
    deployment: dep.Deployment,
    *,
    landing_zone_deny: Policy | None = None,
    targeted_only: bool = True,
) -> tuple[Target, ...]:
    """Each targeted first-tier OU (every first-tier OU: ``targeted_only`` False) and its places.

    The OUs are the scenario's (where the registry or the plan places
    accounts), the deployment's targets with no account yet, and the child
    OUs a target's SCP spares by aws:PrincipalOrgPaths.
    """
    root = _root_of(scenario)
    org_id = scenario.org.org_id
    chains = _tree(scenario)
    first: dict[str, OrgNode] = {}
    for ids, (chain, _) in chains.items():
        if len(ids) == 1:
            first.setdefault(ids[0], chain[0])
    matched = {id(deployment.find(n.node_id, n.name)) for n in first.values()}
    for item in deployment.ous:
        if item.control is None or id(item) in matched:
            continue
        node_id = item.ou.id or f"ou:{item.ou.name}"
        policies = node_policies(item, first_tier=True, landing_zone_deny=landing_zone_deny)
        first[node_id] = OrgNode("ou", node_id, item.ou.name or node_id, policies)
        chains[(node_id,)] = ((first[node_id],), [])
    out = []
    for node in first.values():
        if targeted_only and deployment.find(node.node_id, node.name) is None:
            continue
        out.append(Target(node, _places(root, node, chains, deployment, org_id)))
    return tuple(out)


def _places(
    root: OrgNode,
    node: OrgNode,
    chains: dict[tuple[str, ...], tuple[tuple[OrgNode, ...], list[str]]],
    deployment: dep.Deployment,
    org_id: str | None,
) -> tuple[Placement, ...]:
    mine = {ids: value for ids, value in chains.items() if ids[0] == node.node_id}
    for child in _spared(node.policies):
        if (node.node_id, child) in mine:
            continue
        item = deployment.find(child, None)
        name = item.ou.name if item is not None and item.ou.name else child
        child_node = OrgNode("ou", child, name, node_policies(item, first_tier=False))
        mine[(node.node_id, child)] = ((node, child_node), [])
    out: list[Placement] = []
    for ids in sorted(mine, key=lambda i: (len(i), i)):
        chain, accounts = mine[ids]
        prefix = _org_prefix(org_id, root, chain)
        children = tuple(
            sorted(other[-1] for other in mine if len(other) == len(ids) + 1 and other[:-1] == ids)
        )
        place = Placement(root, chain, prefix, tuple(accounts), known_children=children)
        out.append(place)
        if prefix is not None and KEY_ORG_PATHS in policy_keys(place.levels()):
            out.append(Placement(root, chain, prefix, (), True, children))
    return tuple(out)


# ---------------------------------------------------------------- the symbolic request


@dataclass
class _Vars:
    """The variables of one symbolic request, to read a model back."""

    action: StrVar
    region: StrVar
    resource: StrVar
    is_iam: Any
    rest: StrVar
    profile_present: Any = None
    profile_region: StrVar | None = None
    profile_rest: StrVar | None = None
    org_tail: StrVar | None = None


def principal_field(v: _Vars, domain: list[Any]) -> Field:
    """The caller's aws:PrincipalArn: a role, user, root or federated user of the account."""
    iam = v.rest.atom(IAM_PRINCIPAL_SHAPE)
    sts = v.rest.atom(STS_PRINCIPAL_SHAPE)
    domain.append(ite(v.is_iam, iam, sts))
    domain.append(neg(conj(v.is_iam, v.rest.atom(SERVICE_LINKED))))
    return Field("arn", arn=ArnPart(("iam", "sts"), v.is_iam, "", StrTerm(v.rest)))


def _org_field(place: Placement, v: _Vars, domain: list[Any]) -> Field:
    if place.org_prefix is None:
        return Field("fixed", value=None)
    if not place.below:
        return Field("fixed", value=place.org_prefix)
    v.org_tail = StrVar("org_tail", OU_TAIL_SHAPE)
    domain.extend(neg(v.org_tail.atom(wildcard(f"{c}/*"))) for c in place.known_children)
    return Field("string", term=StrTerm(v.org_tail, place.org_prefix))


def single_request(place: Placement, accounts: AccountSets) -> tuple[SymRequest, _Vars]:
    """One authorization anywhere in ``place``: every part free within its domain."""
    v = _Vars(
        StrVar("action", ACTION_SHAPE),
        StrVar("region", REGION_SHAPE),
        StrVar("resource", ANY_STRING),
        boolean("principal_is_iam"),
        StrVar("principal", ANY_STRING),
        boolean("profile_present"),
        StrVar("profile_region", REGION_CODE_SHAPE),
        StrVar("profile_resource", PROFILE_RESOURCE_SHAPE),
    )
    domain: list[Any] = []
    principal = principal_field(v, domain)
    org = _org_field(place, v, domain)
    assert v.profile_region is not None and v.profile_rest is not None
    fields = {
        KEY_REGION: Field("string", term=StrTerm(v.region)),
        KEY_ACCOUNT: Field("account"),
        KEY_PRINCIPAL_ARN: principal,
        KEY_ORG_PATHS: org,
        KEY_INFERENCE_PROFILE: Field(
            "arn",
            present=v.profile_present,
            arn=ArnPart(("bedrock",), None, StrTerm(v.profile_region), StrTerm(v.profile_rest)),
        ),
    }
    variables = [v.action, v.region, v.resource, v.rest, v.profile_region, v.profile_rest]
    if v.org_tail is not None:
        variables.append(v.org_tail)
    req = SymRequest(
        StrTerm(v.action), StrTerm(v.resource), fields, accounts, tuple(variables), domain
    )
    return req, v


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Counterexample:
    """A request that breaks a property, as the evaluator confirmed it."""

    account_id: str
    account_name: str | None
    where: str
    principal_arn: str
    action: str
    region: str
    resource: str = "*"
    inference_profile_arn: str | None = None
    org_path: str | None = None
    operations: tuple[str, ...] = ()
    inference_profile: str | None = None
    decision: str = "ALLOW"
    reason: str = ""
    note: str | None = None
    # The OUs from the first tier down to the account (a new OU's id included).
    ou_ids: tuple[str, ...] = ()
    # Why the request model (and so explain) refuses the request, if it does.
    refused: str | None = None

    def describe(self) -> str:
        who = f"{self.account_id} ({self.account_name})" if self.account_name else self.account_id
        via = f" through {self.inference_profile}" if self.inference_profile else ""
        also = f" (also requested as {', '.join(self.operations)})" if self.operations else ""
        extra = []
        if self.resource != "*" and self.inference_profile is None:
            extra.append(f"resource {self.resource}")
        if self.inference_profile_arn and self.inference_profile is None:
            extra.append(f"bedrock:InferenceProfileArn {self.inference_profile_arn}")
        if self.org_path:
            extra.append(f"aws:PrincipalOrgPaths {self.org_path}")
        tail = f", {', '.join(extra)}" if extra else ""
        return (
            f"{self.action}{also} in {self.region}{via} by {self.principal_arn} of account {who} "
            f"under {self.where}{tail}: {self.decision}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account_id,
            "account_name": self.account_name,
            "where": self.where,
            "principal_arn": self.principal_arn,
            "action": self.action,
            "operations": list(self.operations),
            "region": self.region,
            "resource": self.resource,
            "inference_profile": self.inference_profile,
            "inference_profile_arn": self.inference_profile_arn,
            "org_path": self.org_path,
            "decision": self.decision,
            "evaluator_reason": self.reason,
            "note": self.note,
            "ou_ids": list(self.ou_ids),
            "refused_by_request_model": self.refused,
        }


@dataclass(frozen=True)
class PropertyResult:
    id: str
    statement: str
    holds: bool
    checked: str
    counterexample: Counterexample | None = None
    explain: str | None = None
    failing: tuple[str, ...] = ()
    note: str | None = None
    details: Any = None

    @property
    def title(self) -> str:
        return TITLES[self.id]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "statement": self.statement,
            "holds": self.holds,
            "checked": self.checked,
            "counterexample": self.counterexample.to_dict() if self.counterexample else None,
            "explain": self.explain,
            "failing": list(self.failing),
            "note": self.note,
        }
        if self.details is not None:
            out["changes"] = self.details
        return out


# ---------------------------------------------------------------- the solver


class Solver:
    """z3 with a memo: a question asked again (the same formula, shared by z3) is not re-solved."""

    def __init__(self, timeout_ms: int = SOLVER_TIMEOUT_MS) -> None:
        self.timeout_ms = timeout_ms
        self._memo: dict[int, tuple[Any, str]] = {}
        self.questions = 0
        self.solved = 0

    def status(self, formula: Any) -> str:
        """``sat`` (a request breaks the property), ``unsat`` or ``unknown``."""
        self.questions += 1
        if isinstance(formula, bool):
            return "sat" if formula else "unsat"
        key = formula.get_id()
        hit = self._memo.get(key)
        if hit is not None:
            return hit[1]
        self.solved += 1
        solver = z3.Solver()
        solver.set("timeout", self.timeout_ms)
        solver.add(to_z3(formula))
        result = str(solver.check())
        self._memo[key] = (formula, result)
        return result

    def model(self, formula: Any, preferences: Sequence[Any]) -> Any:
        """A model of ``formula``, meeting each preference in turn where it can."""
        solver = z3.Solver()
        solver.set("timeout", self.timeout_ms)
        solver.add(to_z3(formula))
        if solver.check() != z3.sat:
            raise ProofError("the solver found a counterexample once and not again")
        for preference in preferences:
            if preference is None:
                continue
            solver.push()
            solver.add(to_z3(preference))
            if solver.check() != z3.sat:
                solver.pop()
        solver.check()
        return solver.model()


# ---------------------------------------------------------------- concrete requests


def _fresh_account(taken: Iterable[str]) -> str:
    used = set(taken)
    n = 1
    while f"{n:012d}" in used:
        n += 1
    return f"{n:012d}"


def _account_witness(
    accounts: AccountSets, vec: tuple[bool, ...], here: Sequence[str], spec: Spec
) -> str:
    """An account id with the model's memberships, preferring one the registry places here."""
    members: Sequence[str] = accounts.vectors().get(vec, ())
    if members:
        preferred = [a for a in members if a in here]
        return (preferred or members)[0]
    listed = set().union(*accounts.lists) if accounts.lists else set()
    outside = [a for a in here if a not in listed]
    if outside:
        return outside[0]
    return _fresh_account([*listed, *spec.account_names, spec.management_account_id or ""])


def _prefer_accounts(accounts: AccountSets, here: Sequence[str]) -> Any:
    """The account vectors of the accounts the registry places here."""
    listed = set().union(*accounts.lists) if accounts.lists else set()
    wanted = [
        vec
        for vec, members in accounts.vectors().items()
        if any(a in here for a in members) or (not members and any(a not in listed for a in here))
    ]
    return accounts.prefer(wanted)


def _action_name(var: StrVar, vec: tuple[bool, ...], witness: str) -> str:
    """The IAM reference data's spelling of an action with the model's vector, if it has one."""
    service = witness.partition(":")[0]
    if iamref.service_exists(service):
        exact = [a for a in iamref.service_actions(service) if a.lower() == witness]
        if exact and var.vector(witness) == vec:
            return exact[0]
    services = [service] if iamref.service_exists(service) else []
    services += [s for s in ("ec2", "s3", "bedrock", "lambda") if s != service]
    for svc in services:
        if not iamref.service_exists(svc):
            continue
        for name in iamref.service_actions(svc):
            if var.vector(name.lower()) == vec:
                return name
    return witness


def operations_for(action: str) -> tuple[str, ...]:
    """The other API operations AWS authorizes as ``action`` (the request model's data)."""
    return tuple(
        op.name
        for op in runtime_operations().values()
        if op.iam_action.lower() == action.lower() and op.name.lower() != action.lower()
    )


@dataclass(frozen=True)
class Context:
    """What every property needs: the scenario, the spec, how to reproduce, the solver."""

    scenario: Scenario
    spec: Spec
    explain_prefix: Sequence[str]
    solver: Solver
    known_regions: frozenset[str]


def _explain(ctx: Context, cx: Counterexample) -> str | None:
    if cx.account_id not in ctx.spec.account_names:
        return None
    if cx.inference_profile_arn is not None and cx.inference_profile is None:
        return None
    if cx.refused is not None:
        return None
    args = [
        *ctx.explain_prefix,
        "--account",
        cx.account_id,
        "--action",
        cx.action,
        "--region",
        cx.region,
    ]
    if cx.principal_arn != default_principal_arn(cx.account_id):
        args += ["--principal-arn", cx.principal_arn]
    if cx.inference_profile is not None:
        args += ["--inference-profile", cx.inference_profile]
    elif cx.resource != "*":
        args += ["--resource", cx.resource]
    return " ".join(shlex.quote(a) for a in args)


def _tree_for(
    ctx: Context, place: Placement, levels: Sequence[Sequence[Policy]], account: str, tail: str
) -> OrgTree:
    """An organization holding ``account`` at ``place`` (below it: under the OUs of ``tail``),
    with ``levels`` as the SCPs on its path."""
    nodes = [
        OrgNode(n.kind, n.node_id, n.name, tuple(policies))
        for n, policies in zip((place.root, *place.chain), levels, strict=False)
    ]
    if place.below:
        ids = [t for t in tail.split("/") if t]
        nodes += [OrgNode("ou", ou, ou, (FULL_AWS_ACCESS,)) for ou in ids]
    name = ctx.spec.account_names.get(account, account)
    own = OrgNode("account", account, name, tuple(levels[-1]))
    return OrgTree(
        (AccountPath(account, name, (*nodes, own)),),
        ctx.scenario.org.management_account_id,
        ctx.scenario.org.org_id,
    )


def _single_counterexample(
    ctx: Context,
    place: Placement,
    formula: Any,
    req: SymRequest,
    v: _Vars,
    expect: str,
    levels: Sequence[Sequence[Policy]] | None = None,
    model: Any = None,
    before: Sequence[Sequence[Policy]] | None = None,
) -> Counterexample:
    """The model of ``formula`` as a request, confirmed by the evaluator.

    The evaluator must decide ``expect`` under ``levels`` (default: the
    place's SCPs) and, given ``before``, the other way under those.
    """
    spec = ctx.spec
    # The seed's Regions first, so that a counterexample reads like the failure it guards.
    seed = [r for r in SEED_REGIONS if r in ctx.known_regions]
    regions = [*seed, *sorted(ctx.known_regions - {UNSPECIFIED, *seed})]
    actions = [a.lower() for a in spec.exempted_actions if not is_wildcard(a)]
    actions += list(PREFERRED_ACTIONS)
    assert v.profile_region is not None and v.profile_rest is not None
    if model is None:
        preferences = [
            _prefer_accounts(req.accounts, place.accounts),
            neg(v.profile_present),
            v.resource.prefer(["*"]),
            conj(v.is_iam, v.rest.prefer([DEFAULT_ROLE])),
            v.region.prefer(regions),
            v.region.prefer(sorted(ctx.known_regions)),
            v.action.prefer(actions),
        ]
        if v.org_tail is not None:
            preferences.append(v.org_tail.prefer([NEW_OU]))
        model = ctx.solver.model(formula, preferences)
    account = _account_witness(req.accounts, req.accounts.vector_of(model), place.accounts, spec)
    service = "iam" if z3.is_true(model.eval(v.is_iam, model_completion=True)) else "sts"
    rest = v.rest.witness(v.rest.vector_of(model), [DEFAULT_ROLE, "user/WorkloadUser", "root"])
    principal = f"arn:aws:{service}::{account}:{rest}"
    action_vec = v.action.vector_of(model)
    action = _action_name(v.action, action_vec, v.action.witness(action_vec, actions))
    region = v.region.witness(v.region.vector_of(model), [*regions, UNSPECIFIED])
    resource = v.resource.witness(v.resource.vector_of(model), ["*"])
    profile_arn = None
    if z3.is_true(model.eval(v.profile_present, model_completion=True)):
        profile_region = v.profile_region.witness(v.profile_region.vector_of(model), regions)
        profile_rest = v.profile_rest.witness(
            v.profile_rest.vector_of(model), [f"inference-profile/us.{SAMPLE_MODEL}"]
        )
        profile_arn = f"arn:aws:bedrock:{profile_region}:{account}:{profile_rest}"
    tail = ""
    org_path = place.org_prefix
    if v.org_tail is not None:
        tail = v.org_tail.witness(v.org_tail.vector_of(model), [NEW_OU])
        org_path = f"{place.org_prefix}{tail}"
    request = Request(
        account,
        action,
        region,
        principal_arn=principal,
        resource=resource,
        inference_profile_arn=profile_arn,
    )
    checks = [(levels or place.levels(), expect)]
    if before is not None:
        checks.append((before, "DENY" if expect == "ALLOW" else "ALLOW"))
    decision = None
    for side, want in checks:
        got = Evaluator(_tree_for(ctx, place, side, account, tail)).evaluate(request)
        if got.effect != want:
            raise ProofError(
                f"the solver says {want} and the evaluator {got.effect} for {request} under "
                f"{place.label()}: {got.reason}"
            )
        decision = decision or got
    assert decision is not None
    notes = []
    if account not in spec.account_names:
        notes.append(
            f"account {account} is in no registry: it stands for any account placed under "
            f"{place.label()} (the evaluator decided it placed there)"
        )
    if region not in ctx.known_regions:
        notes.append(f"{region} is a Region code botocore does not know yet")
    if not iamref.action_exists(action):
        notes.append(f"{action} is not an action of the IAM reference data today")
    if profile_arn is not None:
        notes.append(
            "the request carries bedrock:InferenceProfileArn: it is a leg of a call through an "
            "inference profile, and explain decides whole calls"
        )
    refusal = None
    if profile_arn is None and region in ctx.known_regions and iamref.action_exists(action):
        try:
            build_request(account, action, region, principal_arn=principal, resource=resource)
        except RequestError as exc:
            refusal = str(exc)
            notes.append(
                f"the request model refuses it as a request AWS does not make ({refusal}); the "
                "proof covers every Region code and action alike, so it fails closed here"
            )
    return Counterexample(
        account,
        spec.account_names.get(account),
        place.label(),
        principal,
        action,
        region,
        resource,
        profile_arn,
        org_path if ctx.scenario.org.org_id else None,
        operations_for(action),
        decision=decision.effect,
        reason=decision.reason,
        note="; ".join(notes) or None,
        ou_ids=(*(n.node_id for n in place.chain), *(t for t in tail.split("/") if t)),
        refused=refusal,
    )


# ---------------------------------------------------------------- P1 and P2


def _in_regions(v: _Vars, regions: Sequence[str]) -> Any:
    return disj(*[v.region.atom(literal(r)) for r in regions])


def _exempted(v: _Vars, patterns: Sequence[str]) -> Any:
    if not patterns:
        return False
    return v.action.atom(patterns_lang(patterns, action=True))


def _property(
    place: Placement, spec: Spec, claim: Callable[[SymRequest, _Vars, Any], Any]
) -> tuple[Any, SymRequest, _Vars]:
    """A request at ``place`` that SCPs allow, the management account aside, meeting ``claim``
    (given the Boolean "the account is permitted"): its existence breaks the property."""
    accounts = AccountSets()
    permitted = accounts.member(spec.permitted)
    management = accounts.member([spec.management_account_id or ""])
    req, v = single_request(place, accounts)
    body = claim(req, v, permitted)
    decision = allowed(place.levels(), req)
    return conj(neg(management), body, decision, req.constraints()), req, v


def _p1(place: Placement, spec: Spec) -> tuple[Any, SymRequest, _Vars]:
    return _property(
        place,
        spec,
        lambda req, v, permitted: conj(
            neg(permitted),
            neg(_in_regions(v, spec.allowed_regions)),
            _exempted(v, spec.exempted_actions),
        ),
    )


def documented_exemption(req: SymRequest, v: _Vars, spec: Spec, permitted: Any) -> Any:
    """The requests the Region deny lets through by design (docs/scp-evaluation.md, Proof)."""
    principal = req.fields[KEY_PRINCIPAL_ARN].arn
    assert principal is not None
    where = "the documented exemptions"
    return disj(
        _exempted(v, GLOBAL_SERVICE_ACTIONS),
        *[arn_like(principal, req.accounts, p, where) for p in CONTROL_TOWER_ROLE_ARNS],
        *[arn_like(principal, req.accounts, p, where) for p in spec.exempted_principals],
        conj(_exempted(v, spec.exempted_actions), permitted),
    )


def _p2(place: Placement, spec: Spec) -> tuple[Any, SymRequest, _Vars]:
    return _property(
        place,
        spec,
        lambda req, v, permitted: conj(
            neg(_in_regions(v, spec.allowed_regions)),
            neg(documented_exemption(req, v, spec, permitted)),
        ),
    )


def _single_property(
    ctx: Context,
    pid: str,
    statement: str,
    targets: Sequence[Target],
    build: Callable[[Placement, Spec], tuple[Any, SymRequest, _Vars]],
) -> PropertyResult:
    places = [p for t in targets for p in t.placements]
    failing: list[str] = []
    undecided: list[str] = []
    first: tuple[Placement, Any, SymRequest, _Vars] | None = None
    # Places the registry puts accounts in first, so that a counterexample names one.
    for place in sorted(places, key=lambda p: (p.below, not p.accounts)):
        formula, req, v = build(place, ctx.spec)
        status = ctx.solver.status(formula)
        if status == "sat":
            failing.append(place.label())
            if first is None:
                first = (place, formula, req, v)
        elif status != "unsat":
            undecided.append(place.label())
    checked = f"{count(len(targets), 'targeted OU')}, {count(len(places), 'place')} under them"
    note = None
    if undecided:
        note = "the solver could not decide on: " + ", ".join(undecided)
    if first is None:
        return PropertyResult(pid, statement, not undecided, checked, note=note)
    place, formula, req, v = first
    cx = _single_counterexample(ctx, place, formula, req, v, "ALLOW")
    return PropertyResult(
        pid, statement, False, checked, cx, _explain(ctx, cx), tuple(failing), note
    )


# ---------------------------------------------------------------- P3


@dataclass(frozen=True)
class _Group:
    """Permitted accounts that share one path of SCPs."""

    levels: tuple[tuple[Policy, ...], ...]
    org_path: str | None
    accounts: tuple[str, ...]
    where: str


def _permitted_groups(scenario: Scenario, spec: Spec) -> tuple[_Group, ...]:
    groups: dict[tuple[Any, ...], list[AccountPath]] = {}
    org_id = scenario.org.org_id
    for account in scenario.org.accounts:
        if account.account_id not in spec.permitted:
            continue
        if account.account_id == scenario.org.management_account_id:
            continue
        key = (
            tuple(tuple(p.key for p in n.policies) for n in account.levels),
            account.org_path(org_id) if org_id else None,
        )
        groups.setdefault(key, []).append(account)
    out = []
    for key, members in groups.items():
        first = members[0]
        ou = first.ou_path
        out.append(
            _Group(
                tuple(n.policies for n in first.levels),
                key[1],
                tuple(a.account_id for a in members),
                f'OU "{ou}"' if ou else "the root",
            )
        )
    return tuple(out)


def _resource_patterns(levels: Sequence[Sequence[Policy]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r for st in statements_on(levels) for r in st.resources))


# The model id of a profile that is not in AWS's table (a call through it reaches every
# Region of its geography): what a counterexample names when only such a profile breaks P3.
UNLISTED_MODEL = "example.model-not-in-the-table-v1:0"
# The account of the calls whose legs a routing keeps: it shows only in a profile leg's
# resource, which P3's formulas read with Resource patterns that cannot tell accounts apart.
_LEG_ACCOUNT = "000000000000"


@dataclass(frozen=True)
class Routing:
    """Calls through some of a geography's profiles, leg by leg, as the request model makes them.

    ``ids``: profile ids of AWS's table whose tables are the same; empty for
    every other id of the prefix (``unlisted``: the table's ids, left out),
    whose calls reach every Region of the geography. ``legs``: per source
    Region, the legs of a call (:func:`regionguard.request.legs`) through
    ``model`` (the first id's model, or :data:`UNLISTED_MODEL`).
    """

    geography: Geography
    ids: tuple[str, ...]
    unlisted: tuple[str, ...]
    model: str
    legs: tuple[tuple[str, tuple[Leg, ...]], ...]

    def models(self) -> tuple[str, ...]:
        """The model ids of ``ids`` (after ``<prefix>.``), or of ``unlisted`` for the rest."""
        return tuple(i[len(self.geography.prefix) + 1 :] for i in self.ids or self.unlisted)

    def model_regions(self, source: str) -> tuple[str, ...]:
        legs = dict(self.legs)[source]
        return tuple(leg.region for leg in legs if leg.kind == "model")

    @property
    def is_global(self) -> bool:
        return any(leg.kind == "global-model" for _, legs in self.legs for leg in legs)


def routings(profiles: ProfileData, geographies: Sequence[Geography]) -> tuple[Routing, ...]:
    """Every way a call through the geographies' profiles is routed: AWS's table, then the rest.

    Profiles with the same table are one routing; each geography has one more
    for the ids its table does not name (:func:`regionguard.request.destinations`).
    """
    operation = next(o for o in profile_operations())
    action = Action(operation.name, operation.iam_action, operation)
    principal = default_principal(_LEG_ACCOUNT)
    out = []
    for g in geographies:
        routed = [pid for pid in profiles.routes if pid.partition(".")[0] == g.prefix]
        groups: dict[Any, list[str]] = {}
        for pid in routed:
            groups.setdefault(tuple(sorted(profiles.routes[pid].destinations.items())), []).append(
                pid
            )
        unlisted_id = f"{g.prefix}.{UNLISTED_MODEL}"
        assert unlisted_id not in profiles.routes
        kinds: list[tuple[tuple[str, ...], tuple[str, ...], str]]
        kinds = [(tuple(ids), (), ids[0]) for ids in groups.values()]
        kinds.append(((), tuple(routed), unlisted_id))
        for ids, unlisted, example in kinds:
            profile = parse_profile(example, profiles)
            calls = tuple(
                (s, call_legs(CallRequest(_LEG_ACCOUNT, action, s, principal, profile)))
                for s in profile.sources
            )
            out.append(Routing(g, ids, unlisted, profile.model_id, calls))
    return tuple(out)


def _leg_parts(leg: Leg, model: str, var: StrVar | None) -> tuple[str | StrTerm, ArnPart | None]:
    """A leg's resource and profile ARN, the model id a variable (``var``) or as written."""

    def term(text: str) -> str | StrTerm:
        if var is None:
            return text
        if not text.endswith(model):
            raise ProofError(f"the leg {leg} does not end with the model id {model}")
        return StrTerm(var, text[: -len(model)])

    profile = None
    if leg.inference_profile_arn is not None:
        parts = leg.inference_profile_arn.split(":", 5)
        profile = ArnPart(("bedrock",), None, parts[3], term(parts[5]))
    return term(leg.resource), profile


@dataclass
class _Legs:
    """The variables of a call through an inference profile (P3)."""

    action: StrVar
    is_iam: Any
    rest: StrVar
    source: StrVar
    region: StrVar
    profile: StrVar
    routings: tuple[Routing, ...] = ()
    # Per leg (_profile_formula_per_leg): the model id, and the (routing, source) choices.
    model: StrVar | None = None
    choices: tuple[tuple[Routing, str], ...] = ()


def _regions_lang(regions: Iterable[str], text: str) -> Lang:
    return Lang(tuple(literal(r).alts[0] for r in sorted(set(regions))), text)


def _chosen(profile: StrVar, routing: Routing) -> Any:
    """The profile id is one of the routing's (or of its prefix and none of the table's)."""
    if routing.ids:
        return disj(*[profile.atom(literal(i)) for i in routing.ids])
    return conj(
        profile.atom(wildcard(f"{routing.geography.prefix}.?*")),
        *[neg(profile.atom(literal(i))) for i in routing.unlisted],
    )


def _routing_vars(all_routings: Sequence[Routing]) -> tuple[StrVar, StrVar, StrVar]:
    """The source Region, the Region of a model leg and the profile id of a P3 call."""
    sources = [s for r in all_routings for s, _ in r.legs]
    model_regions = [leg.region for r in all_routings for _, ls in r.legs for leg in ls]
    return (
        StrVar("source_region", _regions_lang(sources, "a source Region of a profile")),
        StrVar("leg_region", _regions_lang(model_regions, "a Region of a model leg")),
        StrVar("profile_id", ANY_STRING),
    )


Atoms = tuple[tuple[Lang, str], ...]
# The choices of the last routings (:func:`_routing_choices`), by the routings' identity.
_CHOICES: dict[int, tuple[Sequence[Routing], Any, tuple[Atoms, Atoms, Atoms]]] = {}


def _routing_choices(all_routings: Sequence[Routing]) -> tuple[Any, tuple[Atoms, Atoms, Atoms]]:
    """The calls a P3 formula ranges over, as a term over :func:`_routing_vars`, with the atoms
    it registers on each variable in order: built once, shared by every path of SCPs.

    Each routing ties the profile id to its ids and the two Regions to the
    (source, model leg) pairs of its calls, and says whether it is global.
    """
    hit = _CHOICES.get(id(all_routings))
    if hit is not None and hit[0] is all_routings:
        return hit[1], hit[2]
    source, region, profile = _routing_vars(all_routings)
    is_global = boolean("global")
    choices = []
    for routing in all_routings:
        by_regions: dict[tuple[str, ...], list[str]] = {}
        for src, _ in routing.legs:
            by_regions.setdefault(routing.model_regions(src), []).append(src)
        pairs = [
            conj(
                disj(*[source.atom(literal(s)) for s in srcs]),
                disj(*[region.atom(literal(r)) for r in regions]),
            )
            for regions, srcs in by_regions.items()
        ]
        choices.append(
            conj(
                _chosen(profile, routing),
                disj(*pairs),
                is_global if routing.is_global else neg(is_global),
            )
        )
    atoms = (tuple(source.atoms), tuple(region.atoms), tuple(profile.atoms))
    _CHOICES.clear()
    _CHOICES[id(all_routings)] = (all_routings, disj(*choices), atoms)
    return disj(*choices), atoms


def _model_chosen(model: StrVar, routing: Routing) -> Any:
    """The model id makes a profile id of the routing."""
    atoms = [model.atom(literal(m)) for m in routing.models()]
    return disj(*atoms) if routing.ids else conj(*[neg(a) for a in atoms])


def _profile_formula(
    group: _Group, spec: Spec, all_routings: Sequence[Routing]
) -> tuple[Any, AccountSets, _Legs]:
    """Some leg of some call through a profile, by a permitted account of the group, is denied.

    The source Region, the Region of a model leg and the profile id are
    variables; each routing ties the profile id to its ids, and the two
    Regions to the (source, model leg) pairs of its calls. Resource patterns
    are all ``*`` here (:func:`_p3` checks), so a leg's resource does not matter.
    """
    accounts = AccountSets()
    here = accounts.member(group.accounts)
    management = accounts.member([spec.management_account_id or ""])
    source, region, profile_id = _routing_vars(all_routings)
    choices, atoms = _routing_choices(all_routings)
    for var, keys in zip((source, region, profile_id), atoms, strict=True):
        for key in keys:
            var.atom(*key)
    legs = _Legs(
        StrVar("action", ACTION_SHAPE),
        boolean("principal_is_iam"),
        StrVar("principal", ANY_STRING),
        source,
        region,
        profile_id,
        tuple(all_routings),
    )
    domain: list[Any] = [
        disj(*[legs.action.atom(literal(a.lower())) for a in spec.inference_actions]),
    ]
    v = _Vars(legs.action, legs.source, legs.region, legs.is_iam, legs.rest)
    principal = principal_field(v, domain)
    is_global = boolean("global")
    domain.append(choices)
    profile = ArnPart(
        ("bedrock",), None, StrTerm(legs.source), StrTerm(legs.profile, "inference-profile/")
    )

    def request(region: str | StrTerm, with_profile: bool) -> SymRequest:
        fields = {
            KEY_REGION: Field("fixed", value=region)
            if isinstance(region, str)
            else Field("string", term=region),
            KEY_ACCOUNT: Field("account"),
            KEY_PRINCIPAL_ARN: principal,
            KEY_ORG_PATHS: Field("fixed", value=group.org_path),
            KEY_INFERENCE_PROFILE: Field("arn", arn=profile)
            if with_profile
            else Field("fixed", value=None),
        }
        variables = (legs.action, legs.rest, legs.source, legs.region, legs.profile)
        return SymRequest(StrTerm(legs.action), "*", fields, accounts, variables, domain)

    # The legs (request.legs): the profile in the source Region, the model in each Region of
    # the pair (the source's included), the Region-less model of a global profile.
    denied = disj(
        neg(allowed(group.levels, request(StrTerm(legs.source), False))),
        neg(allowed(group.levels, request(StrTerm(legs.region), True))),
        conj(is_global, neg(allowed(group.levels, request(UNSPECIFIED, True)))),
    )
    last = request(UNSPECIFIED, True)
    formula = conj(here, neg(management), denied, last.constraints())
    return formula, accounts, legs


def _profile_formula_per_leg(
    group: _Group, spec: Spec, all_routings: Sequence[Routing]
) -> tuple[Any, AccountSets, _Legs]:
    """:func:`_profile_formula` where Resource patterns other than ``*`` are on the path.

    Each (routing, source Region) is one choice, and each leg of its call is
    written out (its Region, resource and profile ARN), the model id a
    variable: exact, and as many legs as the request model makes. The account
    in a profile ARN is any 12-digit id: Resource patterns whose digits could
    fall on it are refused.
    """
    for pattern in _resource_patterns(group.levels):
        parts = pattern.split(":")
        if pattern == "*" or not any(c.isdigit() for c in pattern):
            continue
        if len(parts) >= 6 and "*" not in ":".join(parts[:4]) and parts[4] in ("", "*"):
            continue
        raise Unmodelled(
            f"{group.where}: the Resource pattern {pattern!r} has digits that may fall on the "
            "account id of an inference profile ARN; P3 models Resource patterns without "
            "digits there"
        )
    accounts = AccountSets()
    here = accounts.member(group.accounts)
    management = accounts.member([spec.management_account_id or ""])
    never = Lang((), "no Region")
    legs = _Legs(
        StrVar("action", ACTION_SHAPE),
        boolean("principal_is_iam"),
        StrVar("principal", ANY_STRING),
        StrVar("source_region", never),
        StrVar("leg_region", never),
        StrVar("profile_id", never),
        tuple(all_routings),
        StrVar("model_id", MODEL_ID_SHAPE),
    )
    assert legs.model is not None
    domain: list[Any] = [
        disj(*[legs.action.atom(literal(a.lower())) for a in spec.inference_actions]),
    ]
    v = _Vars(legs.action, legs.source, legs.region, legs.is_iam, legs.rest)
    principal = principal_field(v, domain)
    choice = z3.Int("leg_choice")
    choices: list[tuple[Routing, str]] = []
    options = []
    model = legs.model

    def request(leg: Leg, routing: Routing) -> SymRequest:
        resource, profile = _leg_parts(leg, routing.model, model)
        fields = {
            KEY_REGION: Field("fixed", value=leg.region),
            KEY_ACCOUNT: Field("account"),
            KEY_PRINCIPAL_ARN: principal,
            KEY_ORG_PATHS: Field("fixed", value=group.org_path),
            KEY_INFERENCE_PROFILE: Field("arn", arn=profile)
            if profile is not None
            else Field("fixed", value=None),
        }
        return SymRequest(StrTerm(legs.action), resource, fields, accounts, (), domain)

    for routing in all_routings:
        chosen = _model_chosen(model, routing)
        for source, call in routing.legs:
            denied = [neg(allowed(group.levels, request(leg, routing))) for leg in call]
            options.append(conj(choice == len(choices), chosen, disj(*denied)))
            choices.append((routing, source))
    legs.choices = tuple(choices)
    formula = conj(
        here,
        neg(management),
        disj(*options),
        *domain,
        legs.action.constraint(),
        legs.rest.constraint(),
        model.constraint(),
        accounts.realizable(),
    )
    return formula, accounts, legs


def _p3_geographies(spec: Spec) -> list[Geography]:
    return [
        g
        for g in spec.profiles.geographies.values()
        if g.partition == PARTITION and not (g.is_global and spec.global_inference == "none")
    ]


def _p3_formula(
    group: _Group, spec: Spec, all_routings: Sequence[Routing]
) -> tuple[Any, AccountSets, _Legs]:
    if any(r != "*" for r in _resource_patterns(group.levels)):
        return _profile_formula_per_leg(group, spec, all_routings)
    return _profile_formula(group, spec, all_routings)


def _p3(ctx: Context, statement: str) -> PropertyResult:
    spec = ctx.spec
    groups = _permitted_groups(ctx.scenario, spec)
    geographies = _p3_geographies(spec)
    all_routings = routings(spec.profiles, geographies)
    failing: list[str] = []
    undecided: list[str] = []
    first: tuple[_Group, Any, AccountSets, _Legs] | None = None
    if spec.inference_actions and geographies:
        for group in groups:
            formula, accounts, legs = _p3_formula(group, spec, all_routings)
            status = ctx.solver.status(formula)
            if status == "sat":
                failing.append(group.where)
                if first is None:
                    first = (group, formula, accounts, legs)
            elif status != "unsat":
                undecided.append(group.where)
    accounts_total = sum(len(g.accounts) for g in groups)
    listed = sum(len(r.ids) for r in all_routings)
    checked = (
        f"{count(accounts_total, 'permitted account')} on {count(len(groups), 'path')}, "
        "through the "
        + ", ".join(f"{g.prefix}." for g in geographies)
        + f" profiles ({listed} in AWS's table, each from its source Regions to its "
        "destinations; any other id to every Region of its geography)"
    )
    note = None
    if not spec.inference_actions:
        note = "no exempted action is an inference action: nothing to call through a profile"
    if undecided:
        note = f"the solver could not decide on: {', '.join(undecided)}"
    if first is None:
        return PropertyResult("P3", statement, not undecided, checked, note=note)
    group, formula, accounts, legs = first
    cx = _profile_counterexample(ctx, group, formula, accounts, legs)
    return PropertyResult(
        "P3", statement, False, checked, cx, _explain(ctx, cx), tuple(failing), note
    )


def _profile_operation(action: str) -> str:
    """The operation a call through a profile names for ``action`` (itself, if it is one)."""
    names = [o.name for o in profile_operations() if o.iam_action.lower() == action.lower()]
    same = [n for n in names if n.lower() == action.lower()]
    return (same or names or [action])[0]


def _read_call(legs: _Legs, model: Any, spec: Spec) -> tuple[str, str]:
    """The (source Region, profile id) of a model of a P3 formula."""
    candidates = [f"{g.prefix}.{SAMPLE_MODEL}" for g in _p3_geographies(spec)]
    if legs.model is not None:
        index = model.eval(z3.Int("leg_choice"), model_completion=True).as_long()
        routing, source = legs.choices[index]
        models = [SAMPLE_MODEL, *routing.models(), UNLISTED_MODEL]
        name = legs.model.witness(legs.model.vector_of(model), models)
        return source, f"{routing.geography.prefix}.{name}"
    for routing in legs.routings:
        candidates += [*routing.ids, f"{routing.geography.prefix}.{UNLISTED_MODEL}"]
    profile_id = legs.profile.witness(legs.profile.vector_of(model), candidates)
    sources = [s for r in legs.routings for s, _ in r.legs]
    source = legs.source.witness(legs.source.vector_of(model), sources)
    return source, profile_id


def _profile_counterexample(
    ctx: Context,
    group: _Group,
    formula: Any,
    accounts: AccountSets,
    legs: _Legs,
) -> Counterexample:
    spec = ctx.spec
    samples = [f"{g.prefix}.{SAMPLE_MODEL}" for g in _p3_geographies(spec)]
    # The seed's case first: a us. profile called from a governed Region.
    preferences = [
        _prefer_accounts(accounts, group.accounts),
        conj(legs.is_iam, legs.rest.prefer([DEFAULT_ROLE])),
    ]
    if legs.model is None:
        preferences += [legs.profile.prefer([sample]) for sample in samples]
        preferences.append(legs.source.prefer(spec.allowed_regions))
        preferences += [legs.source.prefer([r.legs[0][0]]) for r in legs.routings if r.legs]
    else:
        choice = z3.Int("leg_choice")
        for prefix in [g.prefix for g in _p3_geographies(spec)]:
            preferences.append(
                disj(
                    *[
                        choice == k
                        for k, (r, source) in enumerate(legs.choices)
                        if r.geography.prefix == prefix and source in spec.allowed_regions
                    ]
                )
            )
        preferences.append(legs.model.prefer([SAMPLE_MODEL]))
    preferences += [legs.action.prefer([a.lower()]) for a in spec.inference_actions]
    model = ctx.solver.model(formula, preferences)
    vec = accounts.vector_of(model)
    members = [a for a in accounts.vectors().get(vec, []) if a in group.accounts]
    if not members:
        raise ProofError(f"P3: no permitted account of {group.where} has the model's memberships")
    account = members[0]
    service = "iam" if z3.is_true(model.eval(legs.is_iam, model_completion=True)) else "sts"
    rest = legs.rest.witness(
        legs.rest.vector_of(model), [DEFAULT_ROLE, "user/WorkloadUser", "root"]
    )
    principal = f"arn:aws:{service}::{account}:{rest}"
    action_vec = legs.action.vector_of(model)
    iam_action = _action_name(legs.action, action_vec, legs.action.witness(action_vec))
    action = _profile_operation(iam_action)
    source, profile_id = _read_call(legs, model, spec)
    try:
        request = build_request(
            account,
            action,
            source,
            principal_arn=principal,
            inference_profile=profile_id,
            profile_data=spec.profiles,
        )
    except RequestError as exc:
        raise ProofError(f"P3: the solver names a call the request model refuses: {exc}") from exc
    call = decide(Evaluator(ctx.scenario.org), request)
    if call.allowed:
        raise ProofError(
            f"P3: the solver says a leg of {profile_id} from {source} is denied to {account}, and "
            f"the evaluator allows the whole call: {call.decision.reason}"
        )
    denied = call.denied
    assert denied is not None
    path = ctx.scenario.org.path(account)
    unlisted = profile_id not in spec.profiles.routes
    return Counterexample(
        account,
        spec.account_names.get(account),
        group.where,
        principal,
        action,
        source,
        operations=tuple(o for o in operations_for(iam_action) if o != action),
        inference_profile=profile_id,
        decision="DENY",
        reason=call.decision.reason,
        note=f"leg {call.legs.index(denied) + 1} of {len(call.legs)}: {denied.leg.describe()}"
        + (
            f"; {profile_id} stands for any {profile_id.partition('.')[0]}. profile not in "
            "AWS's table, whose calls reach every Region of its geography"
            if unlisted
            else ""
        ),
        ou_ids=tuple(n.node_id for n in path.levels if n.kind == "ou") if path else (),
    )


class ProfileCallDecider:
    """P3's formula for one path of SCPs, deciding concrete calls through inference profiles:
    what the agreement test holds to the evaluator's decisions on whole calls.

    :meth:`allowed` pins the formula's account, principal (the account's default
    role), action, source Region and profile id to the call's, leaving the leg
    free: the formula is satisfiable exactly when some leg of the call is denied.
    """

    def __init__(
        self,
        levels: Sequence[Sequence[Policy]],
        org_path: str | None,
        spec: Spec,
        account_id: str,
    ) -> None:
        group = _Group(tuple(tuple(level) for level in levels), org_path, (account_id,), "here")
        self.routings = routings(spec.profiles, _p3_geographies(spec))
        formula, self.accounts, self.legs = _p3_formula(group, spec, self.routings)
        self.solver = z3.Solver()
        self.solver.add(to_z3(formula))
        self.account_id = account_id

    @property
    def per_leg(self) -> bool:
        return self.legs.model is not None

    def allowed(self, action: str, source: str, profile_id: str) -> bool:
        legs = self.legs
        pins: list[Any] = [legs.is_iam]
        values = [(legs.action, action.lower()), (legs.rest, DEFAULT_ROLE)]
        prefix, _, model_id = profile_id.partition(".")
        if legs.model is None:
            values += [(legs.source, source), (legs.profile, profile_id)]
        else:
            routing = next(
                r
                for r in self.routings
                if r.geography.prefix == prefix
                and (profile_id in r.ids or (not r.ids and profile_id not in r.unlisted))
            )
            pins.append(z3.Int("leg_choice") == legs.choices.index((routing, source)))
            values.append((legs.model, model_id))
        for var, value in values:
            vec = var.vector(value)
            if vec is None:
                raise ProofError(f"{value!r} is outside the domain of {var.name} ({var.domain})")
            pins += [b if bit else neg(b) for b, bit in zip(var.booleans(), vec, strict=True)]
        for ids, flag in zip(self.accounts.lists, self.accounts.booleans(), strict=True):
            pins.append(flag if self.account_id in ids else neg(flag))
        result = self.solver.check(*[to_z3(p) for p in pins])
        if result == z3.unknown:
            raise ProofError(f"the solver could not decide the call through {profile_id}")
        return bool(result == z3.unsat)


# ---------------------------------------------------------------- all of it


def _region_words(regions: Sequence[str]) -> str:
    return ", ".join(regions) if regions else "(none)"


def statements_for(spec: Spec) -> dict[str, str]:
    actions = ", ".join(spec.exempted_actions) or "(no exempted action)"
    ops = [op for a in spec.exempted_actions for op in operations_for(a)]
    via = f" (and {', '.join(ops)}, which AWS authorizes as them)" if ops else ""
    principals = ", ".join(spec.exempted_principals) or "none"
    return {
        "P1": (
            f"no account outside the {len(spec.permitted)} permitted (expired permits are "
            f"outside) can perform {actions}{via} outside {_region_words(spec.allowed_regions)}, "
            "on any targeted OU"
        ),
        "P2": (
            f"outside {_region_words(spec.allowed_regions)} every request is denied except the "
            f"control's {len(GLOBAL_SERVICE_ACTIONS)} global-service actions, the "
            f"{len(CONTROL_TOWER_ROLE_ARNS)} Control Tower roles, the exempted principals "
            f"({principals}) and the exempted actions for permitted accounts"
        ),
        "P3": (
            "every permitted account can call "
            + (", ".join(spec.inference_actions) or "(no inference action)")
            + " through every inference profile of the request model's data, from each "
            "source Region, every leg allowed, on the OU where it is placed"
            + (
                " (global profiles left out: global_inference is none)"
                if spec.global_inference == "none"
                else ""
            )
        ),
    }


def prove(
    scenario: Scenario,
    deployment: dep.Deployment,
    spec: Spec,
    *,
    explain_prefix: Sequence[str],
    landing_zone_deny: Policy | None = None,
    solver: Solver | None = None,
) -> tuple[PropertyResult, ...]:
    """P1, P2 and P3 for the deployment on the scenario's organization."""
    ctx = Context(
        scenario,
        spec,
        tuple(explain_prefix),
        solver or Solver(),
        known_regions(),
    )
    targets = placements(scenario, deployment, landing_zone_deny=landing_zone_deny)
    words = statements_for(spec)
    return (
        _single_property(ctx, "P1", words["P1"], targets, _p1),
        _single_property(ctx, "P2", words["P2"], targets, _p2),
        _p3(ctx, words["P3"]),
    )


def known_regions() -> frozenset[str]:
    """The Regions a request may name (the request model's: botocore's, and unspecified)."""
    return frozenset(iamref.partition_regions(PARTITION)) | {UNSPECIFIED}


# ---------------------------------------------------------------- P4: what a plan changes


@dataclass(frozen=True)
class Listed:
    """The widenings a plan review already lists, in the terms of a request.

    A changed request is listed when its account is one the review names as
    newly permitted, its Region one added to an allow list, its action one
    newly exempted or unguarded, its principal one newly exempted, its OU one
    that loses coverage, or when the review names a change it cannot narrow
    down (``broad``: a statement or an SCP removed, an option changed).
    """

    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    actions: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    ous: frozenset[str] = frozenset()
    broad: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """A set of requests whose decision the plan changes, described finitely."""

    widening: bool
    where: str
    ou_id: str
    accounts: str
    account_ids: tuple[str, ...]
    regions: tuple[str, ...]
    actions: str
    principals: str
    other: str
    example: Counterexample
    listed_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": "widening" if self.widening else "narrowing",
            "where": self.where,
            "accounts": self.accounts,
            "account_ids": list(self.account_ids),
            "regions": list(self.regions),
            "actions": self.actions,
            "principals": self.principals,
            "other": self.other,
            "listed_by": self.listed_by,
            "example": self.example.to_dict(),
        }


# Most cubes described per place and direction; past it the description says it is cut.
MAX_CUBES = 60


def _levels_on(
    place: Placement, deployment: dep.Deployment, lz: Policy | None
) -> tuple[tuple[Policy, ...], ...]:
    """The SCPs on ``place``'s path as ``deployment`` leaves them (the orgmodel's rule)."""
    chain = tuple(
        OrgNode(
            "ou",
            n.node_id,
            n.name,
            node_policies(
                deployment.find(n.node_id, n.name if depth == 0 else None),
                first_tier=depth == 0,
                landing_zone_deny=lz,
            ),
        )
        for depth, n in enumerate(place.chain)
    )
    return Placement(place.root, chain, place.org_prefix, below=place.below).levels()


def _short(lang: Lang, limit: int = 4) -> str:
    """A pattern list in words: the first few patterns and how many more."""
    items = str(lang).split(", ")
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def _describe(
    var: StrVar, literals: Mapping[Any, bool], skip: frozenset[Lang] = frozenset()
) -> str:
    """The strings a cube leaves to ``var``, from the patterns its literals keep."""
    hit: list[str] = []
    missed: list[str] = []
    for (lang, _), flag in zip(var.atoms, var.booleans(), strict=True):
        if flag not in literals or lang in skip:
            continue
        (hit if literals[flag] else missed).append(_short(lang))
    words = []
    if hit:
        words.append("matching " + " and ".join(f"[{h}]" for h in hit))
    if missed:
        words.append("matching none of " + ", ".join(f"[{m}]" for m in missed))
    return " and ".join(words) if words else "any"


_SHAPES = frozenset({IAM_PRINCIPAL_SHAPE, STS_PRINCIPAL_SHAPE, SERVICE_LINKED})


def _cube_literals(req: SymRequest, v: _Vars, model: Any) -> list[tuple[Any, bool]]:
    """Every Boolean the formula depends on, as the model has it."""
    booleans = [*req.accounts.booleans(), v.is_iam, v.profile_present]
    for var in req.variables:
        booleans.extend(var.booleans())
    return [(b, z3.is_true(model.eval(b, model_completion=True))) for b in booleans]


def _literal(flag: Any, value: bool) -> Any:
    return flag if value else neg(flag)


def _check_assuming(solver: Any, assumptions: Sequence[Any]) -> Any:
    """``solver.check(*assumptions)`` for z3 Booleans, through the C API.

    z3's Python ``check`` casts each assumption to a Boolean first (its sort
    read and compared through the Python API), which was most of the time of
    cube generalization (72,562 casts for 7,162 checks at 200 OUs); the
    literals here are Booleans already, as ``conj`` and ``neg`` make them.
    """
    if any(isinstance(a, bool) for a in assumptions):
        return solver.check(*assumptions)
    array = (z3.Ast * len(assumptions))()
    for i, a in enumerate(assumptions):
        array[i] = a.as_ast()
    ctx = solver.ctx
    result = z3.Z3_solver_check_assumptions(ctx.ref(), solver.solver, len(assumptions), array)
    return z3.CheckSatResult(result)


class _Cubes:
    """The requests of one place whose decision changes one way, as generalized cubes.

    A model of the change is a cube (a value for every Boolean); each
    literal whose removal keeps the cube inside the change is removed, so a
    cube reads as "these accounts, these Regions, any principal".
    """

    def __init__(self, domain: Any, change: Any, timeout_ms: int) -> None:
        self.outside = z3.Solver()
        self.outside.set("timeout", timeout_ms)
        self.outside.add(to_z3(domain), to_z3(neg(change)))
        self.inside = z3.Solver()
        self.inside.set("timeout", timeout_ms)
        self.inside.add(to_z3(domain), to_z3(change))
        self.domain = z3.Solver()
        self.domain.set("timeout", timeout_ms)
        self.domain.add(to_z3(domain))

    def generalize(self, literals: list[tuple[Any, bool]]) -> dict[Any, bool]:
        keep = dict(literals)
        # Each literal made once, not once per trial: a cube of k Booleans
        # made k * k negations (101,654 at 200 OUs).
        terms = {id(f): _literal(f, v) for f, v in keep.items()}
        for flag, _value in literals:
            trial = [terms[id(f)] for f in keep if f is not flag]
            if _check_assuming(self.outside, trial) == z3.unsat:
                del keep[flag]
        return keep

    def within(self, cube: Mapping[Any, bool], term: Any) -> bool:
        """Every request of the cube satisfies ``term``."""
        if term is False:
            return False
        if term is True:
            return True
        assumptions = [_literal(f, v) for f, v in cube.items()]
        self.domain.push()
        self.domain.add(to_z3(neg(term)))
        result = _check_assuming(self.domain, assumptions)
        self.domain.pop()
        return bool(result == z3.unsat)


@dataclass(frozen=True)
class _Enumeration:
    """The cubes of one change (its formulas kept, so z3's ids stay theirs)."""

    domain: Any
    change: Any
    cubes: _Cubes
    models: tuple[tuple[Any, dict[Any, bool]], ...]
    cut: bool
    # z3 answered unknown (its timeout) before the list was whole.
    undecided: bool = False


def _enumerated(
    memo: dict[tuple[int, int], _Enumeration],
    domain: Any,
    change: Any,
    req: SymRequest,
    v: _Vars,
    timeout_ms: int,
) -> _Enumeration:
    """Each cube of ``change`` within ``domain`` with its model, at most MAX_CUBES.

    Places whose formulas are the same z3 terms ask the same question: OUs
    whose SCPs differ only in their accounts' ids (a list of accounts is a
    Boolean named by its position, not by its members) change the same
    requests, so their cubes are found once, and each place puts them in
    words with its own accounts and confirms its own example with the
    evaluator (``_change``). z3 shares equal terms, so equal ids are equal
    formulas.
    """
    key = (to_z3(domain).get_id(), to_z3(change).get_id())
    hit = memo.get(key)
    if hit is not None:
        return hit
    cubes = _Cubes(domain, change, timeout_ms)
    models: list[tuple[Any, dict[Any, bool]]] = []
    cut = False
    while (result := cubes.inside.check()) == z3.sat:
        if len(models) == MAX_CUBES:
            cut = True
            break
        model = cubes.inside.model()
        cube = cubes.generalize(_cube_literals(req, v, model))
        models.append((model, cube))
        cubes.inside.add(to_z3(neg(conj(*[_literal(f, x) for f, x in cube.items()]))))
    undecided = not cut and result != z3.unsat
    memo[key] = _Enumeration(domain, change, cubes, tuple(models), cut, undecided)
    return memo[key]


def _listed_terms(req: SymRequest, v: _Vars, listed: Listed) -> list[tuple[str, Any]]:
    """One term per kind of thing the review lists: a request satisfying it is listed."""
    principal = req.fields[KEY_PRINCIPAL_ARN].arn
    assert principal is not None
    terms: list[tuple[str, Any]] = []
    if listed.accounts:
        terms.append(
            (
                f"newly permitted {noun(len(listed.accounts), 'account')}",
                req.accounts.member(listed.accounts),
            )
        )
    if listed.regions:
        regions = sorted(listed.regions)
        terms.append(
            (f"{noun(len(regions), 'Region')} {', '.join(regions)} added", _in_regions(v, regions))
        )
    if listed.actions:
        terms.append(
            (
                f"{noun(len(listed.actions), 'action')} {', '.join(listed.actions)}",
                _exempted(v, listed.actions),
            )
        )
    if listed.principals:
        arns = [arn_like(principal, req.accounts, p, "the review") for p in listed.principals]
        terms.append(
            (
                f"{noun(len(listed.principals), 'principal')} {', '.join(listed.principals)}",
                disj(*arns),
            )
        )
    return terms


Levels = tuple[tuple[Policy, ...], ...]


def _ids_words(ids: Sequence[str], spec: Spec) -> str:
    names = [f"{a} ({spec.account_names[a]})" if a in spec.account_names else a for a in ids]
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def _accounts_words(
    accounts: AccountSets, cube: Mapping[Any, bool], spec: Spec
) -> tuple[str, tuple[str, ...]]:
    """The accounts a cube leaves, in words, and their ids when they are finitely many."""
    flags = accounts.booleans()
    management = spec.management_account_id
    vectors = [
        [a for a in members if a != management]
        for vec, members in accounts.vectors().items()
        if all(vec[i] == cube.get(f, vec[i]) for i, f in enumerate(flags))
    ]
    vectors = [m for m in vectors if m] + [m for m in vectors if not m][:1]
    ids = sorted({a for members in vectors for a in members})
    if ids and all(vectors):
        return f"account{'s' if len(ids) > 1 else ''} {_ids_words(ids, spec)}", tuple(ids)
    excluded = []
    for ids_, flag in zip(accounts.lists, flags, strict=True):
        if cube.get(flag) is False and ids_ != frozenset({management}):
            what = (
                f"the {len(ids_)} permitted"
                if ids_ == spec.permitted
                else f"[{_ids_words(sorted(ids_), spec)}]"
            )
            excluded.append(what)
    if excluded:
        return "every account but " + " and ".join(excluded), ()
    return "every account", ()


def _change(
    ctx: Context,
    place: Placement,
    widening: bool,
    req: SymRequest,
    v: _Vars,
    model: Any,
    cube: Mapping[Any, bool],
    listed_by: str | None,
    levels: tuple[Levels, Levels],
) -> Change:
    spec = ctx.spec
    accounts, ids = _accounts_words(req.accounts, cube, spec)
    region_literals = {
        str(lang): cube[f]
        for (lang, _), f in zip(v.region.atoms, v.region.booleans(), strict=True)
        if f in cube
    }
    named = [r for r, flag in region_literals.items() if flag]
    excluded = [r for r, flag in region_literals.items() if not flag]
    if named:
        regions: tuple[str, ...] = tuple(named)
    elif excluded:
        regions = ("any Region but " + ", ".join(sorted(excluded)),)
    else:
        regions = ("any Region",)
    actions = "actions " + _describe(v.action, cube)
    principals = _describe(v.rest, cube, _SHAPES)
    principals = "" if principals == "any" else f"principals {principals}"
    other = []
    resource = _describe(v.resource, cube)
    if resource != "any":
        other.append(f"on resources {resource}")
    if v.profile_present in cube:
        with_profile = cube[v.profile_present]
        other.append("through an inference profile" if with_profile else "called directly")
    before, after = levels
    example = _single_counterexample(
        ctx,
        place,
        None,
        req,
        v,
        "ALLOW" if widening else "DENY",
        after,
        model,
        before,
    )
    return Change(
        widening,
        place.label(),
        place.target.node_id,
        accounts,
        tuple(ids),
        regions,
        actions,
        principals,
        ", ".join(other),
        example,
        listed_by,
    )


def diff(
    before: tuple[Scenario, dep.Deployment],
    after: tuple[Scenario, dep.Deployment],
    spec: Spec,
    listed: Listed,
    *,
    explain_prefix: Sequence[str],
    landing_zone_deny: Policy | None = None,
    solver: Solver | None = None,
) -> PropertyResult:
    """P4: every request whose decision the plan changes, as a finite list of changes.

    A widening is listed when every request of it satisfies one thing the
    review lists (decided by z3 over the whole cube, not by its example), or
    when the review names a change it cannot narrow down.
    """
    scenario, after_dep = after
    _, before_dep = before
    ctx = Context(scenario, spec, tuple(explain_prefix), solver or Solver(), known_regions())
    places: dict[Any, Placement] = {}
    for side_scenario, side_dep in (after, before):
        for target in placements(side_scenario, side_dep, targeted_only=False):
            for place in target.placements:
                places.setdefault(place.key, place)
    changes: list[Change] = []
    cut: list[str] = []
    undecided: list[str] = []
    compared = 0
    enumerated: dict[tuple[int, int], _Enumeration] = {}
    for place in places.values():
        old = _levels_on(place, before_dep, landing_zone_deny)
        new = _levels_on(place, after_dep, landing_zone_deny)
        if [[p.key for p in level] for level in old] == [[p.key for p in level] for level in new]:
            continue
        compared += 1
        for widening in (True, False):
            accounts = AccountSets()
            management = accounts.member([spec.management_account_id or ""])
            accounts.member(spec.permitted)
            req, v = single_request(place, accounts)
            terms = _listed_terms(req, v, listed) if widening else []
            was = allowed(old, req)
            now = allowed(new, req)
            change = conj(now, neg(was)) if widening else conj(was, neg(now))
            domain = conj(neg(management), req.constraints())
            status = ctx.solver.status(conj(domain, change))
            if status != "sat":
                if status != "unsat":
                    undecided.append(place.label())
                continue
            found = _enumerated(enumerated, domain, change, req, v, ctx.solver.timeout_ms)
            if found.cut:
                cut.append(place.label())
            if found.undecided:
                undecided.append(place.label())
            cubes = found.cubes
            for model, cube in found.models:
                listed_by = None
                if widening:
                    listed_by = next(
                        (words for words, term in terms if cubes.within(cube, term)), None
                    )
                    if listed_by is None and place.target.node_id in listed.ous:
                        listed_by = f"OU {place.target.node_id} loses coverage"
                    if listed_by is None and listed.broad:
                        listed_by = listed.broad[0]
                changes.append(
                    _change(ctx, place, widening, req, v, model, cube, listed_by, (old, new))
                )
    unlisted = [c for c in changes if c.widening and c.listed_by is None]
    merged = _merge(changes)
    checked = f"{count(len(places), 'place')} compared, {compared} with SCPs the plan changes"
    notes = []
    if cut:
        notes.append(f"more than {MAX_CUBES} changes on {', '.join(cut)}; the list is cut there")
    if undecided:
        places_undecided = ", ".join(dict.fromkeys(undecided))
        notes.append(f"the solver could not decide on: {places_undecided}; the list may be short")
    note = "; ".join(notes) or None
    first = unlisted[0] if unlisted else None
    statement = (
        "the requests whose decision the plan changes, and no widening the review does not list"
    )
    return PropertyResult(
        "P4",
        statement,
        not unlisted and not cut and not undecided,
        checked,
        first.example if first else None,
        _explain(ctx, first.example) if first else None,
        tuple(_change_text(c.to_dict()) for c in unlisted),
        note,
        details=[c.to_dict() for c in merged],
    )


def _merge(changes: Sequence[Change]) -> list[Change]:
    """Changes that differ only in their Region, as one."""
    out: dict[tuple[Any, ...], Change] = {}
    for c in changes:
        key = (c.widening, c.where, c.accounts, c.actions, c.principals, c.other, c.listed_by)
        seen = out.get(key)
        if seen is None:
            out[key] = c
        else:
            out[key] = replace(seen, regions=tuple(dict.fromkeys([*seen.regions, *c.regions])))
    return list(out.values())


# ---------------------------------------------------------------- one run


@dataclass(frozen=True)
class Report:
    """The properties decided for one environment (and plan), and how long it took."""

    source: str
    properties: tuple[PropertyResult, ...]
    seconds: float
    questions: int
    solved: int

    @property
    def holds(self) -> bool:
        return all(p.holds for p in self.properties)

    def failed(self) -> tuple[PropertyResult, ...]:
        return tuple(p for p in self.properties if not p.holds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "holds": self.holds,
            "properties": [p.to_dict() for p in self.properties],
            "seconds": round(self.seconds, 3),
            "solver": {
                "z3": z3.get_version_string(),
                "questions": self.questions,
                "solved": self.solved,
            },
        }

    def text(self) -> str:
        lines = [f"regionguard prove: {self.source}"]
        for p in self.properties:
            verdict = "holds" if p.holds else "FAILS"
            where = f" on {p.failing[0]}" if p.failing and p.id != "P4" else ""
            more = (
                f" (and {len(p.failing) - 1} more)" if len(p.failing) > 1 and p.id != "P4" else ""
            )
            lines.append(f"{p.id} {p.title}: {verdict}{where}{more}")
            lines.append(f"  claim: {p.statement}")
            lines.append(f"  checked: {p.checked}")
            if p.id == "P4" and p.details is not None:
                if not p.details:
                    lines.append("  no request changes its decision")
                for change in p.details:
                    lines.append(f"  - {_change_text(change)}")
            if p.counterexample is not None:
                lines.append(f"  counterexample: {p.counterexample.describe()}")
                lines.append(f"  the evaluator: {p.counterexample.reason}")
                if p.counterexample.note:
                    lines.append(f"  note: {p.counterexample.note}")
                lines.append(
                    f"  reproduce: {p.explain}"
                    if p.explain
                    else "  reproduce: not with explain (see the note); the evaluator confirmed it"
                )
            if p.note:
                lines.append(f"  note: {p.note}")
        lines.append(
            f"decided in {self.seconds:.1f} s (z3 {z3.get_version_string()}: "
            f"{count(self.questions, 'question')}, {self.solved} solved, the rest shared)"
        )
        return "\n".join(lines)


def _change_text(change: Mapping[str, Any]) -> str:
    verb = "gain" if change["change"] == "widening" else "lose"
    text = (
        f"{change['change']}: {change['accounts']} {verb} {change['actions']} in "
        f"{', '.join(change['regions'])}"
    )
    if change["principals"]:
        text += f" as {change['principals']}"
    if change["other"]:
        text += f" {change['other']}"
    text += f" under {change['where']}"
    if change["change"] == "widening":
        listed = change["listed_by"]
        text += f" [listed: {listed}]" if listed else " [NOT listed by the review]"
    return text


def run(
    env: Environment,
    *,
    plan: Plan | None = None,
    listed: Listed | None = None,
    landing_zone_deny: bool = False,
    explain_prefix: Sequence[str] = ("regionguard", "explain"),
    timeout_ms: int = SOLVER_TIMEOUT_MS,
) -> Report:
    """P1-P3 on what the environment (or the plan's after-state) deploys; P4 with a plan.

    A policy of the plan the proof cannot read or does not model is refused
    naming the plan file (PolicyRefused, exit 2).
    """
    try:
        return _run(env, plan, listed, landing_zone_deny, explain_prefix, timeout_ms)
    except PolicyRefused as exc:
        if plan is None:
            raise
        raise type(exc)(f"{plan.source}: {exc}") from None


def _run(
    env: Environment,
    plan: Plan | None,
    listed: Listed | None,
    landing_zone_deny: bool,
    explain_prefix: Sequence[str],
    timeout_ms: int,
) -> Report:
    start = time.monotonic()
    lz = landing_zone_policy(env) if landing_zone_deny else None
    spec = spec_from_env(env, load_profile_data(env.dir))
    solver = Solver(timeout_ms)
    if plan is None:
        deployment = deployment_from_env(env)
        scenario = scenario_from_deployment(env, deployment, landing_zone_deny=landing_zone_deny)
    else:
        deployment = dep.from_plan(plan, "after")
        scenario = scenario_from_plan(env, plan, "after", landing_zone_deny=landing_zone_deny)
    results = list(
        prove(
            scenario,
            deployment,
            spec,
            explain_prefix=explain_prefix,
            landing_zone_deny=lz,
            solver=solver,
        )
    )
    if plan is not None:
        before = dep.from_plan(plan, "before")
        before_scenario = scenario_from_plan(
            env, plan, "before", landing_zone_deny=landing_zone_deny
        )
        results.append(
            diff(
                (before_scenario, before),
                (scenario, deployment),
                spec,
                listed or Listed(),
                explain_prefix=explain_prefix,
                landing_zone_deny=lz,
                solver=solver,
            )
        )
    return Report(
        scenario.source,
        tuple(results),
        time.monotonic() - start,
        solver.questions,
        solver.solved,
    )


def listed_from_plan(plan: Plan) -> Listed:
    """What the plan review lists as widening (:func:`regionguard.review.review_plan`)."""
    return listed_from_review(review_plan(plan).widening)


def listed_from_review(widening: Sequence[Widening]) -> Listed:
    return Listed(
        frozenset(a for w in widening for a in w.accounts),
        frozenset(r for w in widening for r in w.regions),
        tuple(a for w in widening for a in w.actions),
        tuple(p for w in widening for p in w.principals),
        frozenset(o for w in widening for o in w.uncovered),
        tuple(w.message for w in widening if w.broad),
    )


# ---------------------------------------------------------------- one request


class ConcreteDecider:
    """The formula of one path of SCPs, deciding concrete requests: what the agreement test
    holds to the evaluator's decisions.

    The formula is that of a request anywhere (:func:`single_request`); a
    request sets each of its Booleans as the request's values make them.
    :meth:`decide` raises ProofError when a value's pattern vector is not
    among the cells its variable admits (the cells would be wrong).
    Building it raises Unmodelled as :func:`allowed` does.
    """

    def __init__(self, levels: Sequence[Sequence[Policy]], org_path: str | None) -> None:
        place = Placement(OrgNode("root", "r", "Root", ()), (), org_path)
        self.req, self.v = single_request(place, AccountSets())
        self.formula = to_z3(allowed(levels, self.req))

    def decide(self, request: Request) -> bool:
        v = self.v
        arn = request.caller_arn.split(":", 5)
        values: dict[StrVar, str] = {
            v.action: request.action.lower(),
            v.region: request.region,
            v.resource: request.resource,
            v.rest: arn[5],
        }
        assert v.profile_region is not None and v.profile_rest is not None
        profile = request.inference_profile_arn
        if profile is not None:
            parts = profile.split(":", 5)
            values[v.profile_region] = parts[3]
            values[v.profile_rest] = parts[5]
        else:
            for var in (v.profile_region, v.profile_rest):
                values[var] = next(iter(var.cells().values()))
        pairs: list[tuple[Any, Any]] = [
            (v.is_iam, z3.BoolVal(arn[2] == "iam")),
            (v.profile_present, z3.BoolVal(profile is not None)),
        ]
        for var, value in values.items():
            vec = var.vector(value)
            if vec is None:
                raise ProofError(f"{value!r} is outside the domain of {var.name} ({var.domain})")
            if vec not in var.cells():
                raise ProofError(f"{value!r} has a vector of {var.name} its cells leave out")
            pairs.extend(zip(var.booleans(), map(z3.BoolVal, vec), strict=True))
        accounts = self.req.accounts
        for ids, flag in zip(accounts.lists, accounts.booleans(), strict=True):
            pairs.append((flag, z3.BoolVal(request.account_id in ids)))
        result = z3.simplify(z3.substitute(self.formula, *pairs))
        if not (z3.is_true(result) or z3.is_false(result)):
            raise ProofError(f"the formula does not decide {request}: {result}")
        return bool(z3.is_true(result))
