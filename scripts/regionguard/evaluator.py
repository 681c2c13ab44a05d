"""Service control policy evaluation, as AWS Organizations performs it.

Pure: no I/O. The organization tree, the policies and the request come in as
values; a :class:`Decision` comes out, naming the policy and statement that
decided and why, in words.

The rules (docs/scp-evaluation.md cites the AWS documentation for each):

- The management account and service-linked roles are not affected by SCPs.
- Any SCP on the path root -> OUs -> account whose Deny statement matches the
  request denies it (explicit deny wins).
- Otherwise every level of the path (the root, each OU, the account) needs at
  least one SCP with a matching Allow statement; a level without one denies.
- A statement matches when its Action (or NotAction) matches the action
  (case-insensitive, ``*`` and ``?`` wildcards), its Resource (or NotResource)
  matches the resource (case-sensitive wildcards), and every condition holds:
  operators of one block are ANDed, keys within an operator are ANDed, the
  values listed for one key are ORed.
- A key missing from the request makes a positive operator (Equals, Like,
  Bool) false and a negated one (NotEquals, NotLike) true; ``IfExists`` makes
  any operator true on a missing key; ``Null`` tests presence;
  ``ForAllValues`` is true on a missing key, ``ForAnyValue`` false.

Speed: policies are compiled once. Each condition becomes an *atom* whose
outcome depends on one request key and is cached per value; a decision is
then a function of (path of policies, action, resource, atom outcomes) and is
memoised on exactly that, so identical evaluations are shared. The matrix
goes further and evaluates each distinct (account signature, Region
signature, action) once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from regionguard.rules import wildcard_regex
from regionguard.scp import ScpDecodeError, decode_scp

# "N/A": a matrix cell for a request AWS never makes (regionguard.request.direct_matrix).
Effect = Literal["ALLOW", "DENY", "N/A"]
Basis = Literal[
    "allowed",
    "explicit-deny",
    "no-allow",
    "management-account",
    "service-linked-role",
    "not-applicable",
]
TargetKind = Literal["root", "ou", "account"]

UNSPECIFIED_REGION = "unspecified"
DEFAULT_ROLE_NAME = "WorkloadRole"

KEY_REGION = "aws:requestedregion"
KEY_ACCOUNT = "aws:principalaccount"
KEY_PRINCIPAL_ARN = "aws:principalarn"
KEY_INFERENCE_PROFILE = "bedrock:inferenceprofilearn"
KEY_ORG_PATHS = "aws:principalorgpaths"

_ACCOUNT_KEYS = frozenset({KEY_ACCOUNT, KEY_PRINCIPAL_ARN, KEY_ORG_PATHS})

_SESSION = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/")
_IAM_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):(.+)$")


class PolicyError(ValueError):
    """A policy the evaluator cannot evaluate faithfully: bad grammar or unsupported operator."""


# ---------------------------------------------------------------- domain


@dataclass(frozen=True)
class Policy:
    """One SCP: its name (as shown in Organizations), optional id, and its JSON document."""

    name: str
    document: str
    policy_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.document)


@dataclass(frozen=True)
class OrgNode:
    """A level of the organization that SCPs attach to: the root, an OU or an account."""

    kind: TargetKind
    node_id: str
    name: str
    policies: tuple[Policy, ...]

    def label(self) -> str:
        if self.kind == "root":
            return f"the root ({self.node_id})" if self.node_id else "the root"
        if self.kind == "ou":
            return f'OU "{self.name}"'
        if not self.node_id:
            return "the account"
        return f'account "{self.name}" ({self.node_id})'


@dataclass(frozen=True)
class AccountPath:
    """An account and the levels from the root down to it (root, OUs..., the account itself)."""

    account_id: str
    name: str
    levels: tuple[OrgNode, ...]

    @property
    def ou_path(self) -> str:
        return "/".join(level.name for level in self.levels if level.kind == "ou")

    def org_path(self, org_id: str) -> str:
        """The value of ``aws:PrincipalOrgPaths`` for the account's principals.

        The organization id, the root id and each OU id down to the
        account's parent, each followed by ``/`` (IAM User Guide, "AWS global
        condition context keys", aws:PrincipalOrgPaths).
        """
        ids = [level.node_id for level in self.levels if level.kind in ("root", "ou")]
        return "/".join([org_id, *ids]) + "/"


@dataclass(frozen=True)
class OrgTree:
    """The accounts of an organization with their paths, and its management account."""

    accounts: tuple[AccountPath, ...]
    management_account_id: str | None = None
    # The organization id (o-...): with it, requests carry aws:PrincipalOrgPaths;
    # without it the key is missing, as for a principal outside any organization.
    org_id: str | None = None
    _by_id: Mapping[str, AccountPath] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {a.account_id: a for a in self.accounts})

    def path(self, account_id: str) -> AccountPath | None:
        return self._by_id.get(account_id)


@dataclass(frozen=True)
class Request:
    """One authorization as SCPs see it.

    ``principal_arn`` is the value of ``aws:PrincipalArn``: for a role, the
    role's ARN with its path, never an STS session ARN (a session does not
    show the role's path; :mod:`regionguard.request` turns a session into
    its role ARN, or refuses). It defaults to an ordinary role of the account
    (``arn:aws:iam::<account>:role/WorkloadRole``). ``region`` may be
    ``unspecified`` (global inference profiles). ``context`` adds or
    overrides request keys (each with its values).
    """

    account_id: str
    action: str
    region: str
    principal_arn: str | None = None
    resource: str = "*"
    inference_profile_arn: str | None = None
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        if self.principal_arn is not None and _SESSION.match(self.principal_arn):
            raise ValueError(
                f"{self.principal_arn}: aws:PrincipalArn of a role session is the role's ARN "
                "with its path; resolve the session with regionguard.request.parse_principal"
            )

    @property
    def caller_arn(self) -> str:
        return self.principal_arn or default_principal_arn(self.account_id)

    def context_values(self) -> dict[str, tuple[str, ...]]:
        """The request context: lower-cased key -> values."""
        values: dict[str, tuple[str, ...]] = {
            KEY_REGION: (self.region,),
            KEY_ACCOUNT: (self.account_id,),
            KEY_PRINCIPAL_ARN: (self.caller_arn,),
        }
        if self.inference_profile_arn is not None:
            values[KEY_INFERENCE_PROFILE] = (self.inference_profile_arn,)
        for key, key_values in self.context:
            values[key.lower()] = tuple(key_values)
        return values


def default_principal_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{DEFAULT_ROLE_NAME}"


def is_service_linked_role(arn: str) -> bool:
    """Service-linked roles live under the reserved IAM path /aws-service-role/."""
    match = _IAM_ARN.match(arn)
    return match is not None and match.group(3).startswith("role/aws-service-role/")


LegKind = Literal["profile", "model", "global-model"]


@dataclass(frozen=True)
class Leg:
    """One authorization of a call: AWS checks the action on ``resource`` in ``region``.

    ``kind``: ``profile`` (the inference profile, in the source Region),
    ``model`` (the foundation model in a Region the call may run in; the
    source Region for a direct call), ``global-model`` (the Region-less
    foundation model of a global profile, ``aws:RequestedRegion`` =
    ``unspecified``).
    """

    kind: LegKind
    region: str
    resource: str
    inference_profile_arn: str | None = None

    def describe(self) -> str:
        what = {
            "profile": "the inference profile",
            "model": "the foundation model",
            "global-model": "the global foundation model",
        }[self.kind]
        return f"{what} in {self.region}"


@dataclass(frozen=True)
class Call:
    """An API call as AWS authorizes it: one IAM action, one caller, one or more legs.

    ``caller_arn`` is the ARN AWS shows in an AccessDenied message (a session
    ARN for a role session); ``principal_arn`` is the value of
    ``aws:PrincipalArn``. ``service_linked`` marks a service-linked role
    (SCPs do not affect it), recognised by the request model.
    """

    account_id: str
    action: str
    legs: tuple[Leg, ...]
    principal_arn: str | None = None
    caller_arn: str | None = None
    service_linked: bool = False
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def requests(self) -> tuple[Request, ...]:
        return tuple(
            Request(
                self.account_id,
                self.action,
                leg.region,
                principal_arn=self.principal_arn,
                resource=leg.resource,
                inference_profile_arn=leg.inference_profile_arn,
                context=self.context,
            )
            for leg in self.legs
        )

    @property
    def shown_caller(self) -> str:
        return self.caller_arn or self.principal_arn or default_principal_arn(self.account_id)


@dataclass(frozen=True)
class StatementRef:
    """Where a statement lives: its policy, the level it is attached to, its Sid or index."""

    policy_name: str
    policy_id: str | None
    target_kind: TargetKind
    target_id: str
    target_name: str
    sid: str | None
    index: int

    def describe(self) -> str:
        statement = f'statement "{self.sid}"' if self.sid else f"statement #{self.index + 1}"
        node = OrgNode(self.target_kind, self.target_id, self.target_name, ())
        return f'{statement} of SCP "{self.policy_name}" attached to {node.label()}'

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy_name,
            "policy_id": self.policy_id,
            "attached_to": {
                "kind": self.target_kind,
                "id": self.target_id,
                "name": self.target_name,
            },
            "sid": self.sid,
            "statement_index": self.index,
        }


@dataclass(frozen=True)
class Decision:
    """ALLOW or DENY, the basis, the deciding statement, and the reason in words.

    ``statement`` is the Deny that matched (explicit deny) or None.
    ``allowed_by`` names one matching Allow per level (ALLOW only).
    ``not_applied`` lists Deny statements that cover the action but whose
    conditions did not hold, with the condition that spared the request.
    ``level`` names the level that lacked an Allow (no-allow only).
    """

    effect: Effect
    basis: Basis
    reason: str
    statement: StatementRef | None = None
    allowed_by: tuple[StatementRef, ...] = ()
    not_applied: tuple[tuple[StatementRef, str], ...] = ()
    level: str | None = None

    @property
    def allowed(self) -> bool:
        return self.effect == "ALLOW"

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.effect,
            "basis": self.basis,
            "reason": self.reason,
            "statement": self.statement.to_dict() if self.statement else None,
            "allowed_by": [ref.to_dict() for ref in self.allowed_by],
            "not_applied": [{**ref.to_dict(), "because": why} for ref, why in self.not_applied],
            "level": self.level,
        }


@dataclass(frozen=True)
class LegDecision:
    leg: Leg
    decision: Decision


@dataclass(frozen=True)
class CallDecision:
    """The decision on a whole call: ALLOW only when every leg is allowed.

    ``decision`` sums the call up in one :class:`Decision` (what matrix and
    verify show): for a one-leg call it is that leg's decision; for a denied
    call the first denying leg's, its reason led by the AccessDenied message
    AWS returns and the leg; for an allowed call, an ALLOW naming the legs.
    """

    call: Call
    legs: tuple[LegDecision, ...]
    decision: Decision

    @property
    def effect(self) -> Effect:
        return self.decision.effect

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def denied(self) -> LegDecision | None:
        return next((ld for ld in self.legs if not ld.decision.allowed), None)

    def access_denied_message(self) -> str | None:
        """The AccessDeniedException message AWS returns for the first denying leg."""
        denied = self.denied
        if denied is None:
            return None
        return access_denied_message(
            self.call.shown_caller, self.call.action, denied.leg.resource, denied.decision
        )


def access_denied_message(caller: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's words for a request an SCP denies (IAM: "Troubleshoot access denied errors")."""
    if decision.basis == "explicit-deny":
        return (
            f"User: {caller} is not authorized to perform: {action} on resource: {resource} "
            "with an explicit deny in a service control policy"
        )
    return (
        f"User: {caller} is not authorized to perform: {action} on resource: {resource} "
        f"because no service control policy allows the {action} action"
    )


def _summarise(call: Call, legs: tuple[LegDecision, ...]) -> Decision:
    if len(legs) == 1:
        return legs[0].decision
    denied = next((i for i, ld in enumerate(legs) if not ld.decision.allowed), None)
    if denied is not None:
        ld = legs[denied]
        message = access_denied_message(
            call.shown_caller, call.action, ld.leg.resource, ld.decision
        )
        reason = (
            f"{message}. Leg {denied + 1} of {len(legs)} ({ld.leg.describe()}) is denied: "
            f"{ld.decision.reason}"
        )
        return Decision(
            ld.decision.effect,
            ld.decision.basis,
            reason,
            statement=ld.decision.statement,
            not_applied=ld.decision.not_applied,
            level=ld.decision.level,
        )
    first = legs[0].decision
    if first.basis in ("management-account", "service-linked-role"):
        return first
    not_applied: dict[tuple[StatementRef, str], None] = {}
    for ld in legs:
        for item in ld.decision.not_applied:
            not_applied.setdefault(item, None)
    where = ", ".join(ld.leg.describe() for ld in legs)
    return Decision(
        "ALLOW",
        "allowed",
        f"Allowed: each of the {len(legs)} legs of the call is allowed ({where}).",
        allowed_by=first.allowed_by,
        not_applied=tuple(not_applied),
    )


# ---------------------------------------------------------------- patterns


class _Matcher:
    """Wildcard patterns against strings, cached per input string."""

    __slots__ = ("_cache", "_literals", "_regexes", "_star")

    def __init__(self, patterns: Sequence[str], ignore_case: bool) -> None:
        self._star = any(p == "*" for p in patterns)
        literal = [p for p in patterns if "*" not in p and "?" not in p]
        self._literals = frozenset(p.lower() if ignore_case else p for p in literal)
        self._regexes = tuple(
            wildcard_regex(p, ignore_case) for p in patterns if ("*" in p or "?" in p) and p != "*"
        )
        self._cache: dict[str, bool] = {}

    def __call__(self, value: str) -> bool:
        hit = self._cache.get(value)
        if hit is None:
            hit = self._star or self._compute(value)
            self._cache[value] = hit
        return hit

    def _compute(self, value: str) -> bool:
        if self._literals and value.lower() in self._literals:
            return True
        return any(r.match(value) for r in self._regexes)


class _CaseSensitiveMatcher(_Matcher):
    def _compute(self, value: str) -> bool:
        if value in self._literals:
            return True
        return any(r.match(value) for r in self._regexes)


def _matcher(patterns: Sequence[str], ignore_case: bool) -> _Matcher:
    return _Matcher(patterns, True) if ignore_case else _CaseSensitiveMatcher(patterns, False)


# ---------------------------------------------------------------- conditions

_STRING_OPS = {
    "StringEquals": ("string", False),
    "StringNotEquals": ("string", True),
    "StringEqualsIgnoreCase": ("istring", False),
    "StringNotEqualsIgnoreCase": ("istring", True),
    "StringLike": ("like", False),
    "StringNotLike": ("like", True),
    "ArnEquals": ("arn", False),
    "ArnLike": ("arn", False),
    "ArnNotEquals": ("arn", True),
    "ArnNotLike": ("arn", True),
    "Bool": ("bool", False),
    "Null": ("null", False),
}

# Outcome codes of an atom: bit 0 is the result, bit 1 says the key was absent.
_TRUE, _FALSE, _TRUE_ABSENT, _FALSE_ABSENT = 1, 0, 3, 2


def _split_arn(value: str) -> tuple[str, ...] | None:
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return tuple(parts)


class _Atom:
    """One (operator, key, values) of a Condition block; outcomes cached per request value."""

    __slots__ = (
        "_cache",
        "_value_match",
        "if_exists",
        "key",
        "kind",
        "negated",
        "operator",
        "qualifier",
        "values",
    )

    def __init__(self, operator: str, key: str, values: tuple[str, ...]) -> None:
        self.operator = operator
        self.key = key.lower()
        self.values = values
        rest = operator
        self.qualifier: str | None = None
        for prefix in ("ForAnyValue:", "ForAllValues:"):
            if rest.startswith(prefix):
                self.qualifier = prefix[:-1]
                rest = rest[len(prefix) :]
        self.if_exists = rest.endswith("IfExists") and rest != "IfExists"
        base = rest[: -len("IfExists")] if self.if_exists else rest
        if base not in _STRING_OPS:
            raise PolicyError(
                f"condition operator {operator!r} is not supported by the evaluator "
                "(supported: String*, Arn*, Bool, Null, with IfExists and ForAnyValue/ForAllValues)"
            )
        self.kind, self.negated = _STRING_OPS[base]
        if self.kind == "null" and (self.if_exists or self.qualifier):
            raise PolicyError(
                f"condition operator {operator!r}: Null takes no IfExists or set qualifier"
            )
        self._value_match = self._build_value_match()
        self._cache: dict[tuple[str, ...] | None, int] = {}

    def _build_value_match(self) -> Any:
        values = self.values
        if self.kind == "string":
            allowed = frozenset(values)
            return lambda v: v in allowed
        if self.kind == "istring":
            lowered = frozenset(v.lower() for v in values)
            return lambda v: v.lower() in lowered
        if self.kind == "like":
            return _matcher(values, ignore_case=False)
        if self.kind == "bool":
            lowered = frozenset(v.lower() for v in values)
            return lambda v: v.lower() in lowered
        if self.kind == "arn":
            patterns = [_split_arn(p) for p in values]
            compiled = [
                tuple(wildcard_regex(part, ignore_case=False) for part in p)
                for p in patterns
                if p is not None
            ]

            def arn_match(v: str) -> bool:
                parts = _split_arn(v)
                if parts is None:
                    return False
                return any(
                    all(regex.match(part) for regex, part in zip(p, parts, strict=True))
                    for p in compiled
                )

            return arn_match
        return None  # null: handled in outcome()

    def outcome(self, request_values: tuple[str, ...] | None) -> int:
        hit = self._cache.get(request_values)
        if hit is None:
            hit = self._compute(request_values)
            self._cache[request_values] = hit
        return hit

    def _compute(self, request_values: tuple[str, ...] | None) -> int:
        absent = request_values is None or len(request_values) == 0
        if self.kind == "null":
            want_absent = any(v.lower() == "true" for v in self.values)
            want_present = any(v.lower() != "true" for v in self.values)
            result = (absent and want_absent) or (not absent and want_present)
            return (_TRUE if result else _FALSE) | (2 if absent else 0)
        if absent:
            if self.if_exists:
                return _TRUE_ABSENT
            if self.qualifier == "ForAllValues":
                return _TRUE_ABSENT
            if self.qualifier == "ForAnyValue":
                return _FALSE_ABSENT
            return _TRUE_ABSENT if self.negated else _FALSE_ABSENT
        assert request_values is not None
        match = self._value_match
        if self.qualifier is None:
            hit = any(match(v) for v in request_values)
            result = (not hit) if self.negated else hit
        elif self.qualifier == "ForAllValues":
            result = all((not match(v)) if self.negated else match(v) for v in request_values)
        else:
            result = any((not match(v)) if self.negated else match(v) for v in request_values)
        return _TRUE if result else _FALSE

    def describe(self, code: int) -> str:
        """The condition in words, as it came out for a request (``code`` is an outcome code)."""
        key = self._display_key()
        held = bool(code & 1)
        if code & 2:
            state = "holds" if held else "does not hold"
            return f"{key} is absent from the request, so {self.operator} {state}"
        if self.kind == "null":
            return f"{key} is present, so {self.operator} {'holds' if held else 'does not hold'}"
        values = _list_words(self.values)
        matched = held != self.negated
        if self.qualifier == "ForAllValues":
            prefix = "every value of " if held else "not every value of "
        elif self.qualifier == "ForAnyValue":
            prefix = "some value of " if held else "no value of "
        else:
            prefix = ""
        if self.kind in ("like", "arn"):
            verb = "matches one of" if matched else "matches none of"
        else:
            verb = "is one of" if matched else "is not one of"
        if self.kind == "istring":
            verb += " (ignoring case)"
        return f"{prefix}{key} {verb} [{values}]"

    def _display_key(self) -> str:
        names = {
            KEY_REGION: "aws:RequestedRegion",
            KEY_ACCOUNT: "aws:PrincipalAccount",
            KEY_PRINCIPAL_ARN: "aws:PrincipalARN",
            KEY_INFERENCE_PROFILE: "bedrock:InferenceProfileArn",
            KEY_ORG_PATHS: "aws:PrincipalOrgPaths",
        }
        return names.get(self.key, self.key)


def _list_words(values: Sequence[str], limit: int = 8) -> str:
    """Values for a sentence: all of them when few, else the first ones and a count."""
    if len(values) <= limit:
        return ", ".join(values)
    shown = ", ".join(values[: limit - 1])
    return f"{shown} and {len(values) - limit + 1} more"


def _as_list(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise PolicyError(f"{where}: expected a string or a list of strings, got {item!r}")
    return out


class _Statement:
    __slots__ = (
        "action",
        "action_cache",
        "atoms",
        "deny",
        "index",
        "not_action",
        "not_resource",
        "resource",
        "sid",
    )

    def __init__(self, raw: Mapping[str, Any], index: int, atom_pool: dict[Any, _Atom]) -> None:
        where = f"statement #{index + 1}"
        if not isinstance(raw, Mapping):
            raise PolicyError(f"{where}: a statement must be a JSON object")
        if "Principal" in raw or "NotPrincipal" in raw:
            raise PolicyError(f"{where}: SCPs may not use Principal or NotPrincipal")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{where}: Effect must be Allow or Deny, got {effect!r}")
        self.deny = effect == "Deny"
        sid = raw.get("Sid")
        self.sid: str | None = str(sid) if sid is not None else None
        self.index = index
        if ("Action" in raw) == ("NotAction" in raw):
            raise PolicyError(f"{where}: exactly one of Action and NotAction is required")
        self.not_action = "NotAction" in raw
        actions = _as_list(raw["NotAction" if self.not_action else "Action"], where)
        self.action = _matcher(actions, ignore_case=True)
        self.action_cache: dict[str, bool] = {}
        if "Resource" in raw and "NotResource" in raw:
            raise PolicyError(f"{where}: Resource and NotResource cannot both be present")
        self.not_resource = "NotResource" in raw
        resources = _as_list(
            raw.get("NotResource" if self.not_resource else "Resource", "*"), where
        )
        for r in resources:
            if "${" in r:
                raise PolicyError(f"{where}: policy variables in Resource are not supported ({r})")
        self.resource = _matcher(resources, ignore_case=False)
        atoms: list[_Atom] = []
        condition = raw.get("Condition", {})
        if not isinstance(condition, Mapping):
            raise PolicyError(f"{where}: Condition must be a JSON object")
        for operator, block in condition.items():
            if not isinstance(block, Mapping):
                raise PolicyError(f"{where}: Condition {operator} must map keys to values")
            for key, value in block.items():
                values = tuple(_as_list(value, f"{where}: Condition {operator} {key}"))
                if any("${" in v for v in values):
                    raise PolicyError(
                        f"{where}: policy variables in condition values are not supported ({key})"
                    )
                pool_key = (operator, str(key).lower(), values)
                atom = atom_pool.get(pool_key)
                if atom is None:
                    try:
                        atom = _Atom(operator, str(key), values)
                    except PolicyError as exc:
                        raise PolicyError(f"{where}: {exc}") from exc
                    atom_pool[pool_key] = atom
                atoms.append(atom)
        self.atoms = tuple(atoms)

    def covers(self, action: str, resource: str) -> bool:
        """Action and Resource (or their Not forms) match; conditions not considered."""
        hit = self.action_cache.get(action)
        if hit is None:
            hit = self.action(action) != self.not_action
            self.action_cache[action] = hit
        if not hit:
            return False
        return self.resource(resource) != self.not_resource


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    statements: tuple[_Statement, ...]


def compile_policy(policy: Policy, atom_pool: dict[Any, _Atom] | None = None) -> CompiledPolicy:
    """Parse and compile one SCP; raises PolicyError naming the policy on bad grammar."""
    pool: dict[Any, _Atom] = {} if atom_pool is None else atom_pool
    try:
        doc = decode_scp(policy.document)
    except ScpDecodeError as exc:
        raise PolicyError(f'SCP "{policy.name}": {exc}') from exc
    if not isinstance(doc, Mapping) or "Statement" not in doc:
        raise PolicyError(f'SCP "{policy.name}": a policy needs a Statement element')
    raw = doc["Statement"]
    raw_list = raw if isinstance(raw, list) else [raw]
    try:
        statements = tuple(_Statement(s, i, pool) for i, s in enumerate(raw_list))
    except PolicyError as exc:
        raise PolicyError(f'SCP "{policy.name}": {exc}') from exc
    return CompiledPolicy(policy, statements)


# ---------------------------------------------------------------- evaluation


class _Program:
    """The compiled policies of one path shape, with its atoms and its decision memo."""

    def __init__(self, levels: tuple[tuple[OrgNode, tuple[CompiledPolicy, ...]], ...]) -> None:
        self.levels = levels
        atoms: dict[int, _Atom] = {}
        for _, policies in levels:
            for cp in policies:
                for st in cp.statements:
                    for atom in st.atoms:
                        atoms.setdefault(id(atom), atom)
        self.atoms = tuple(atoms.values())
        self.atom_index = {id(a): i for i, a in enumerate(self.atoms)}
        self.memo: dict[tuple[str, str, tuple[int, ...]], Decision] = {}

    def outcomes(self, context: Mapping[str, tuple[str, ...]]) -> tuple[int, ...]:
        return tuple(atom.outcome(context.get(atom.key)) for atom in self.atoms)

    def decide(self, action: str, resource: str, outcomes: tuple[int, ...]) -> Decision:
        memo_key = (action.lower(), resource, outcomes)
        hit = self.memo.get(memo_key)
        if hit is None:
            hit = self._decide(action, resource, outcomes)
            self.memo[memo_key] = hit
        return hit

    def _ref(self, node: OrgNode, cp: CompiledPolicy, st: _Statement) -> StatementRef:
        return StatementRef(
            cp.policy.name,
            cp.policy.policy_id,
            node.kind,
            node.node_id,
            node.name,
            st.sid,
            st.index,
        )

    def _decide(self, action: str, resource: str, outcomes: tuple[int, ...]) -> Decision:
        index = self.atom_index
        not_applied: list[tuple[StatementRef, str]] = []
        for node, policies in self.levels:
            for cp in policies:
                for st in cp.statements:
                    if not st.deny or not st.covers(action, resource):
                        continue
                    codes = [outcomes[index[id(a)]] for a in st.atoms]
                    if all(code & 1 for code in codes):
                        ref = self._ref(node, cp, st)
                        return Decision(
                            "DENY",
                            "explicit-deny",
                            _deny_reason(ref, st, codes, action),
                            statement=ref,
                            not_applied=tuple(not_applied),
                        )
                    failed = next((a, c) for a, c in zip(st.atoms, codes, strict=True) if not c & 1)
                    not_applied.append(
                        (self._ref(node, cp, st), _spared_reason(failed[0], failed[1]))
                    )
        allowed_by: list[StatementRef] = []
        for node, policies in self.levels:
            found: StatementRef | None = None
            for cp in policies:
                for st in cp.statements:
                    if st.deny or not st.covers(action, resource):
                        continue
                    if all(outcomes[index[id(a)]] & 1 for a in st.atoms):
                        found = self._ref(node, cp, st)
                        break
                if found:
                    break
            if found is None:
                attached = ", ".join(f'"{cp.policy.name}"' for cp in policies) or "none"
                return Decision(
                    "DENY",
                    "no-allow",
                    (
                        f"Denied: no SCP attached to {node.label()} allows {action} "
                        f"(attached: {attached}); every level from the root to the account "
                        "needs an Allow, normally FullAWSAccess."
                    ),
                    not_applied=tuple(not_applied),
                    level=node.label(),
                )
            allowed_by.append(found)
        spared = "".join(
            f" {_capital(ref.describe())} does not apply: {why}." for ref, why in not_applied
        )
        return Decision(
            "ALLOW",
            "allowed",
            (
                f"Allowed: no Deny on the path {self.path_label()} matches {action}, "
                f"and every level has an Allow.{spared}"
            ),
            allowed_by=tuple(allowed_by),
            not_applied=tuple(not_applied),
        )

    def path_label(self) -> str:
        return " -> ".join(node.label() for node, _ in self.levels)


def _deny_reason(ref: StatementRef, st: _Statement, codes: list[int], action: str) -> str:
    parts = []
    if st.not_action:
        parts.append(f"{action} is not among its NotAction exceptions")
    else:
        parts.append(f"its Action covers {action}")
    parts.extend(atom.describe(code) for atom, code in zip(st.atoms, codes, strict=True))
    return f"Denied by {ref.describe()}: " + "; ".join(parts) + "."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _spared_reason(atom: _Atom, code: int) -> str:
    return atom.describe(code)


class Evaluator:
    """Evaluates requests against an organization tree; compile once, evaluate many."""

    def __init__(self, org: OrgTree) -> None:
        self.org = org
        self._atom_pool: dict[Any, _Atom] = {}
        self._compiled: dict[tuple[str, str], CompiledPolicy] = {}
        self._programs: dict[tuple[Any, ...], _Program] = {}
        self._account_program: dict[str, _Program] = {}
        for account in org.accounts:
            self._account_program[account.account_id] = self._program_for(account)

    def _compile(self, policy: Policy) -> CompiledPolicy:
        cp = self._compiled.get(policy.key)
        if cp is None:
            cp = compile_policy(policy, self._atom_pool)
            self._compiled[policy.key] = cp
        return cp

    def _program_for(self, account: AccountPath) -> _Program:
        # Accounts whose levels carry the same policies share one program (and
        # its memo); the level names only shape the words of the reason.
        shape = tuple(
            (n.kind, n.node_id, n.name, tuple(p.key for p in n.policies))
            for n in account.levels
            if n.kind != "account"
        ) + tuple(tuple(p.key for p in n.policies) for n in account.levels if n.kind == "account")
        program = self._programs.get(shape)
        if program is None:
            levels = tuple(
                (
                    node if node.kind != "account" else OrgNode("account", "", "", node.policies),
                    tuple(self._compile(p) for p in node.policies),
                )
                for node in account.levels
            )
            program = _Program(levels)
            self._programs[shape] = program
        return program

    def program(self, account_id: str) -> _Program:
        program = self._account_program.get(account_id)
        if program is None:
            raise KeyError(account_id)
        return program

    def evaluate(self, request: Request) -> Decision:
        if self.org.management_account_id and request.account_id == self.org.management_account_id:
            return MANAGEMENT_ACCOUNT_DECISION
        if is_service_linked_role(request.caller_arn):
            return SERVICE_LINKED_ROLE_DECISION
        program = self._account_program.get(request.account_id)
        if program is None:
            raise KeyError(request.account_id)
        context = request.context_values()
        if KEY_ORG_PATHS not in context:
            context.update(self._org_context(request.account_id))
        outcomes = program.outcomes(context)
        return program.decide(request.action, request.resource, outcomes)

    def _org_context(self, account_id: str) -> dict[str, tuple[str, ...]]:
        path = self.org.path(account_id)
        if self.org.org_id is None or path is None:
            return {}
        return {KEY_ORG_PATHS: (path.org_path(self.org.org_id),)}

    def key_values(self, account_id: str, key: str) -> tuple[str, ...]:
        """The policy values of every condition on ``key`` along the account's path."""
        program = self._account_program.get(account_id)
        if program is None:
            return ()
        wanted = key.lower()
        values = (v for atom in program.atoms if atom.key == wanted for v in atom.values)
        return tuple(dict.fromkeys(values))

    def evaluate_call(self, call: Call) -> CallDecision:
        """Every leg of the call; the call is allowed only when every leg is."""
        legs: list[LegDecision] = []
        for leg, request in zip(call.legs, call.requests(), strict=True):
            if call.service_linked:
                decision = SERVICE_LINKED_ROLE_DECISION
            else:
                decision = self.evaluate(request)
            legs.append(LegDecision(leg, decision))
        frozen = tuple(legs)
        return CallDecision(call, frozen, _summarise(call, frozen))

    def matrix(
        self,
        account_ids: Sequence[str],
        regions: Sequence[str],
        actions: Sequence[str],
        resource: str = "*",
    ) -> Matrix:
        """Decisions for every account x Region x action, each with its default principal.

        Each distinct (program, account-key outcomes, Region-key outcomes,
        action) is evaluated once; accounts with the same signature share one
        row of decisions.
        """
        rows: dict[tuple[Any, ...], tuple[tuple[Decision, ...], ...]] = {}
        account_rows: list[tuple[tuple[Decision, ...], ...]] = []
        region_ctx: list[dict[str, tuple[str, ...]]] = [{KEY_REGION: (r,)} for r in regions]
        mgmt = self.org.management_account_id
        mgmt_row = tuple(tuple(MANAGEMENT_ACCOUNT_DECISION for _ in actions) for _ in regions)
        split_cache: dict[int, tuple[list[int], list[int], list[int]]] = {}
        for account_id in account_ids:
            if mgmt and account_id == mgmt:
                account_rows.append(mgmt_row)
                continue
            program = self.program(account_id)
            split = split_cache.get(id(program))
            if split is None:
                acct_idx = [i for i, a in enumerate(program.atoms) if a.key in _ACCOUNT_KEYS]
                reg_idx = [i for i, a in enumerate(program.atoms) if a.key == KEY_REGION]
                const_idx = [
                    i
                    for i, a in enumerate(program.atoms)
                    if a.key != KEY_REGION and a.key not in _ACCOUNT_KEYS
                ]
                split = (acct_idx, reg_idx, const_idx)
                split_cache[id(program)] = split
            acct_idx, _, _ = split
            account_ctx = {
                KEY_ACCOUNT: (account_id,),
                KEY_PRINCIPAL_ARN: (default_principal_arn(account_id),),
                **self._org_context(account_id),
            }
            atoms = program.atoms
            signature = (
                id(program),
                tuple(atoms[i].outcome(account_ctx.get(atoms[i].key)) for i in acct_idx),
            )
            row = rows.get(signature)
            if row is None:
                row = self._row(program, split, signature[1], region_ctx, actions, resource)
                rows[signature] = row
            account_rows.append(row)
        return Matrix(tuple(account_ids), tuple(regions), tuple(actions), tuple(account_rows))

    @staticmethod
    def _row(
        program: _Program,
        split: tuple[list[int], list[int], list[int]],
        acct_outcomes: tuple[int, ...],
        region_ctx: list[dict[str, tuple[str, ...]]],
        actions: Sequence[str],
        resource: str,
    ) -> tuple[tuple[Decision, ...], ...]:
        acct_idx, reg_idx, const_idx = split
        atoms = program.atoms
        base: list[int] = [0] * len(atoms)
        for i, code in zip(acct_idx, acct_outcomes, strict=True):
            base[i] = code
        for i in const_idx:
            base[i] = atoms[i].outcome(None)
        out = []
        for ctx in region_ctx:
            for i in reg_idx:
                base[i] = atoms[i].outcome(ctx[KEY_REGION])
            outcomes = tuple(base)
            out.append(tuple(program.decide(action, resource, outcomes) for action in actions))
        return tuple(out)


MANAGEMENT_ACCOUNT_DECISION = Decision(
    "ALLOW",
    "management-account",
    "Allowed as far as SCPs go: SCPs do not affect the management account.",
)
SERVICE_LINKED_ROLE_DECISION = Decision(
    "ALLOW",
    "service-linked-role",
    "Allowed as far as SCPs go: SCPs do not affect service-linked roles.",
)


@dataclass(frozen=True)
class Cell:
    account_id: str
    region: str
    action: str
    decision: Decision


@dataclass(frozen=True)
class Matrix:
    """Decisions by account, Region and action; rows may be shared between accounts."""

    account_ids: tuple[str, ...]
    regions: tuple[str, ...]
    actions: tuple[str, ...]
    rows: tuple[tuple[tuple[Decision, ...], ...], ...]

    def decision(self, account_id: str, region: str, action: str) -> Decision:
        a = self.account_ids.index(account_id)
        return self.rows[a][self.regions.index(region)][self.actions.index(action)]

    def row(self, account_id: str) -> tuple[tuple[Decision, ...], ...]:
        return self.rows[self.account_ids.index(account_id)]

    def cells(self) -> Iterable[Cell]:
        for account_id, row in zip(self.account_ids, self.rows, strict=True):
            for region, decisions in zip(self.regions, row, strict=True):
                for action, decision in zip(self.actions, decisions, strict=True):
                    yield Cell(account_id, region, action, decision)

    def count_allowed(self) -> int:
        return sum(
            1
            for row in self.rows
            for decisions in row
            for decision in decisions
            if decision.allowed
        )


@dataclass(frozen=True)
class CellChange:
    account_id: str
    region: str
    action: str
    before: Effect | None
    after: Effect | None


def matrix_delta(before: Matrix, after: Matrix) -> tuple[CellChange, ...]:
    """The cells whose effect differs between two matrices (a cell missing on one side is None)."""

    def effects(m: Matrix) -> dict[tuple[str, str, str], Effect]:
        return {(c.account_id, c.region, c.action): c.decision.effect for c in m.cells()}

    old, new = effects(before), effects(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            changes.append(CellChange(*key, before=old.get(key), after=new.get(key)))
    return tuple(changes)
