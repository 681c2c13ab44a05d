"""Service control policies as formulas over a symbolic request, for the z3 SMT solver.

:func:`allowed` turns the SCPs on a path from the root to an account into one
z3 formula that is true exactly when SCPs allow a request. The meaning is the
evaluator's (:mod:`regionguard.evaluator`), rule by rule: a Deny anywhere on
the path wins, every level needs an Allow; Action/NotAction match
case-insensitively with ``*`` and ``?``, Resource/NotResource
case-sensitively; the operators of a Condition are ANDed, the values of one
key ORed; a missing key makes a positive operator false and a negated one
true, ``...IfExists`` true, ``ForAllValues`` true and ``ForAnyValue`` false;
``Null`` tests presence; ARN operators match each of the six colon-separated
parts apart. Each policy is compiled by the evaluator first
(:func:`regionguard.evaluator.compile_policy`), so a policy the evaluator
refuses is refused here in its words, and every condition is the
evaluator's own atom; where a part of the request is a plain value, the
evaluator's atom decides it.

The request (:class:`SymRequest`) has three kinds of parts:

- string variables (:class:`StrVar`: the action, the Region, the principal's
  resource part, ...): each pattern tested on one becomes a z3 Boolean, and
  the variable admits exactly the combinations some string of its domain
  has (:mod:`regionguard.strcells`);
- the caller's account (:class:`AccountSets`): tested only for membership in
  finite lists of account ids (a list of 2,000 permitted accounts is one
  Boolean), admitting exactly the combinations some 12-digit id has;
- plain values, decided by the evaluator.

So z3 decides pure Boolean formulas, and two OUs whose SCPs differ only in
their account lists, in the same way, give the same formula (z3 terms are
shared), which is asked once.

Modelled, and nothing else (:class:`Unmodelled`, exit 2, names the operator
and key of anything beyond it):

- ``aws:RequestedRegion`` and ``aws:PrincipalOrgPaths``: String operators
  (Equals, EqualsIgnoreCase, Like and their negations) and Null; ARN
  operators are false on them (neither holds a colon);
- ``aws:PrincipalAccount``: String operators whose values are account ids or
  patterns without digits (``*``); ARN operators are false;
- ``aws:PrincipalArn`` and ``bedrock:InferenceProfileArn``: ARN operators,
  ``StringEquals``/``StringNotEquals`` of a whole ARN, Null; the account
  part of a pattern is an account id or a pattern without digits;
- ``...IfExists`` and ``ForAllValues``/``ForAnyValue`` on each; no ``Bool``,
  no other key.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import z3

from regionguard import strcells
from regionguard.errors import InputError
from regionguard.evaluator import CompiledPolicy, Policy, PolicyError, compile_policy
from regionguard.rules import ACCOUNT_ID_PATTERN, as_list, is_wildcard, wildcard_regex
from regionguard.scp import ScpDecodeError, decode_scp
from regionguard.strcells import ANY, Lang, Step, literal, wildcard

__all__ = [
    "ACTION_SHAPE",
    "ANY_STRING",
    "AccountSets",
    "ArnPart",
    "Field",
    "PolicyProgram",
    "PolicyRefused",
    "StrTerm",
    "StrVar",
    "SymRequest",
    "Unmodelled",
    "allowed",
    "arn_like",
    "policy_keys",
    "program",
]


class PolicyRefused(InputError):
    """A policy the proof cannot read, or reads and does not model (exit 2)."""


class Unmodelled(PolicyRefused):
    """A policy uses an operator, key or pattern the proof does not model (exit 2)."""


# ---------------------------------------------------------------- Boolean terms
#
# Formulas are built from Python Booleans (constants, folded here) and z3
# Booleans; z3's own And/Or check every argument's sort through the Python
# API, which is most of the time of a large proof, so these call the C API.

Bool = Any  # a Python bool or a z3 BoolRef


def _ast_and(args: Sequence[Any], op: Any) -> Any:
    ctx = args[0].ctx
    array = (z3.Ast * len(args))()
    for i, a in enumerate(args):
        array[i] = a.as_ast()
    return z3.BoolRef(op(ctx.ref(), len(args), array), ctx)


def _fold(args: Sequence[Bool], unit: bool, op: Any) -> Bool:
    """AND (``unit`` True) or OR (``unit`` False) of ``args``, folding constants."""
    terms = []
    for a in args:
        if a is unit:
            continue
        if a is (not unit):
            return not unit
        terms.append(a)
    if not terms:
        return unit
    return terms[0] if len(terms) == 1 else _ast_and(terms, op)


def conj(*args: Bool) -> Bool:
    return _fold(args, True, z3.Z3_mk_and)


def disj(*args: Bool) -> Bool:
    return _fold(args, False, z3.Z3_mk_or)


def neg(a: Bool) -> Bool:
    if isinstance(a, bool):
        return not a
    return z3.BoolRef(z3.Z3_mk_not(a.ctx.ref(), a.as_ast()), a.ctx)


def ite(c: Bool, then: Bool, otherwise: Bool) -> Bool:
    """IF c THEN then ELSE otherwise, as Booleans."""
    if c is True:
        return then
    if c is False:
        return otherwise
    return disj(conj(c, then), conj(neg(c), otherwise))


def to_z3(a: Bool) -> Any:
    return z3.BoolVal(a) if isinstance(a, bool) else a


# ---------------------------------------------------------------- domains


def _chars(spec: str) -> frozenset[str]:
    """A character set from ``a-z0-9`` style ranges and single characters."""
    out: set[str] = set()
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.update(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            out.add(spec[i])
            i += 1
    return frozenset(out)


def _one(spec: str) -> Step:
    return Step(_chars(spec))


def _many(spec: str) -> Step:
    return Step(_chars(spec), True)


def _text(text: str) -> tuple[Step, ...]:
    return tuple(Step(frozenset(c)) for c in text)


_LOWER, _DIGIT = "a-z", "0-9"
# A Region code (rules.REGION_CODE_PATTERN: us-east-1, us-gov-west-1) or "unspecified".
REGION_SHAPE = Lang(
    (
        (
            _one(_LOWER),
            _one(_LOWER),
            *_text("-"),
            _one(_LOWER),
            _many(_LOWER + "-"),
            *_text("-"),
            _one(_DIGIT),
            _many(_DIGIT),
        ),
        _text("unspecified"),
    ),
    "a Region code or unspecified",
)
REGION_CODE_SHAPE = Lang(REGION_SHAPE.alts[:1], "a Region code")
# An IAM action, lower-cased (names compare without case): service prefix, colon, name
# (letters, digits and "-", as every action of the IAM reference data is written).
ACTION_SHAPE = Lang(
    (
        (
            _one("a-z0-9-"),
            _many("a-z0-9-"),
            *_text(":"),
            _one("a-z0-9-"),
            _many("a-z0-9-"),
        ),
    ),
    "an IAM action",
)
_NAME = (_one("A-Za-z0-9+=,.@_-"), _many("A-Za-z0-9+=,.@_-"))
_PATH_CHARS = "!-~"
# The resource part of an IAM principal's ARN: a role or user with its path, or root
# (IAM identifiers); of an STS principal: a federated user.
IAM_PRINCIPAL_SHAPE = Lang(
    (
        (*_text("role/"), *_NAME),
        (*_text("role/"), _many(_PATH_CHARS), *_text("/"), *_NAME),
        (*_text("user/"), *_NAME),
        (*_text("user/"), _many(_PATH_CHARS), *_text("/"), *_NAME),
        _text("root"),
    ),
    "an IAM role, user or root",
)
STS_PRINCIPAL_SHAPE = Lang(((*_text("federated-user/"), *_NAME),), "an STS federated user")
ANY_STRING = Lang(((Step(ANY, True),),), "any string")
PROFILE_RESOURCE_SHAPE = Lang(
    (
        (*_text("inference-profile/"), Step(ANY), Step(ANY, True)),
        (*_text("application-inference-profile/"), Step(ANY), Step(ANY, True)),
    ),
    "an inference profile",
)
# What follows an OU's path in aws:PrincipalOrgPaths below it: OU ids, each with "/".
_OU_ID = (
    *_text("ou-"),
    _one("0-9a-z"),
    _many("0-9a-z"),
    *_text("-"),
    _one("a-z0-9"),
    _many("a-z0-9"),
)
OU_TAIL_SHAPE = Lang(((*_OU_ID, *_text("/"), _many("0-9a-z/-")),), "OU ids below an OU")
MODEL_ID_SHAPE = Lang(((Step(ANY), Step(ANY, True)),), "a model id")
# The path of a service-linked role: SCPs do not affect it, so no property asks about it.
SERVICE_LINKED = wildcard("role/aws-service-role/*")


# ---------------------------------------------------------------- string variables


_CONSTRAINTS: dict[tuple[str, Lang, tuple[tuple[Lang, str], ...]], Any] = {}


class StrVar:
    """A string of ``domain``, as the patterns tested on it see it.

    Each (pattern, prefix) tested is one z3 Boolean ``<name>:<n>``: the
    string, after ``prefix``, matches the pattern. :meth:`constraint` admits
    the vectors of Booleans some string of the domain has.
    """

    def __init__(self, name: str, domain: Lang) -> None:
        self.name = name
        self.domain = domain
        self.atoms: list[tuple[Lang, str]] = []
        self._index: dict[tuple[Lang, str], int] = {}

    def atom(self, lang: Lang, prefix: str = "") -> Any:
        key = (lang, prefix)
        index = self._index.get(key)
        if index is None:
            index = len(self.atoms)
            self.atoms.append(key)
            self._index[key] = index
        return boolean(f"{self.name}:{index}")

    def booleans(self) -> list[Any]:
        return [boolean(f"{self.name}:{i}") for i in range(len(self.atoms))]

    def cells(self) -> dict[tuple[bool, ...], str]:
        return strcells.cells(self.domain, self.atoms)

    def constraint(self) -> Any:
        key = (self.name, self.domain, tuple(self.atoms))
        hit = _CONSTRAINTS.get(key)
        if hit is None:
            hit = _vectors(self.booleans(), list(self.cells()))
            _CONSTRAINTS[key] = hit
        return hit

    def vector_of(self, model: Any) -> tuple[bool, ...]:
        return tuple(z3.is_true(model.eval(b, model_completion=True)) for b in self.booleans())

    def vector(self, value: str) -> tuple[bool, ...] | None:
        return strcells.vector(self.domain, self.atoms, value)

    def prefer(self, candidates: Iterable[str]) -> Any:
        """The cells that hold one of ``candidates`` (None: none does)."""
        wanted = {v for c in candidates if (v := self.vector(c)) is not None}
        if not wanted:
            return None
        return _vectors(self.booleans(), sorted(wanted & set(self.cells())))

    def witness(self, vec: tuple[bool, ...], candidates: Iterable[str] = ()) -> str:
        for candidate in candidates:
            if self.vector(candidate) == vec:
                return candidate
        return self.cells()[vec]


def _vectors(booleans: Sequence[Any], vectors: Sequence[tuple[bool, ...]]) -> Any:
    if not booleans:
        return bool(vectors)
    return disj(
        *[
            conj(*[b if bit else neg(b) for b, bit in zip(booleans, vec, strict=True)])
            for vec in vectors
        ]
    )


@dataclass(frozen=True)
class StrTerm:
    """A string value: ``prefix`` followed by the variable ``var``."""

    var: StrVar
    prefix: str = ""

    def matches(self, lang: Lang) -> Any:
        return self.var.atom(lang, self.prefix)


def _test(value: str | StrTerm, lang: Lang, python: Any) -> Any:
    if isinstance(value, StrTerm):
        return value.matches(lang)
    return bool(python(value))


# ---------------------------------------------------------------- accounts


@functools.lru_cache(maxsize=4096)
def _account_ids(ids: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    return frozenset(i for i in ids if ACCOUNT_ID_PATTERN.match(i))


@functools.lru_cache(maxsize=1 << 16)
def boolean(name: str) -> Any:
    """The z3 Boolean constant ``name`` (made once: z3's Python constructor is slow)."""
    return z3.Bool(name)


# Every place and property of a proof makes its own AccountSets over the same
# few lists (at 200 OUs: 881 of them, each sorting the 2,000 permitted ids).
@functools.lru_cache(maxsize=1024)
def _membership_vectors(
    lists: tuple[frozenset[str], ...],
) -> Mapping[tuple[bool, ...], tuple[str, ...]]:
    """Membership vector -> the listed ids that have it (the empty vector: none listed).

    The ids of the longest list that are in no other list all have one
    vector; only the others are looked at one by one.
    """
    out: dict[tuple[bool, ...], list[str]] = {tuple(False for _ in lists): []}
    if lists:
        longest = max(range(len(lists)), key=lambda i: len(lists[i]))
        rest = [ids for i, ids in enumerate(lists) if i != longest]
        others: set[str] = set().union(*rest) if rest else set()
        alone = sorted(lists[longest] - others)
        if alone:
            vec = tuple(i == longest for i in range(len(lists)))
            out[vec] = alone
        for account in sorted(others):
            vec = tuple(account in ids for ids in lists)
            out.setdefault(vec, []).append(account)
    return MappingProxyType({vec: tuple(ids) for vec, ids in out.items()})


class AccountSets:
    """The caller's account as its membership in finite lists of account ids.

    Each distinct list is one z3 Boolean ``account_in_<n>``, numbered in the
    order first asked for. :meth:`realizable` admits exactly the vectors some
    12-digit account id has: that of each listed id, and "in none" (there
    are far more account ids than listed ones).
    """

    def __init__(self) -> None:
        self.lists: list[frozenset[str]] = []
        self._index: dict[frozenset[str], int] = {}

    def member(self, ids: Iterable[str]) -> Any:
        """The Boolean "the account is one of ``ids``" (only 12-digit ids can be)."""
        key = _account_ids(ids if isinstance(ids, tuple | frozenset) else tuple(ids))
        if not key:
            return False
        index = self._index.get(key)
        if index is None:
            index = len(self.lists)
            self.lists.append(key)
            self._index[key] = index
        return boolean(f"account_in_{index}")

    def booleans(self) -> list[Any]:
        return [boolean(f"account_in_{i}") for i in range(len(self.lists))]

    def vectors(self) -> Mapping[tuple[bool, ...], tuple[str, ...]]:
        """Membership vector -> the listed ids that have it (the empty vector: none listed)."""
        return _membership_vectors(tuple(self.lists))

    def realizable(self) -> Any:
        return _vectors(self.booleans(), list(self.vectors()))

    def vector_of(self, model: Any) -> tuple[bool, ...]:
        return tuple(z3.is_true(model.eval(b, model_completion=True)) for b in self.booleans())

    def prefer(self, vectors: Iterable[tuple[bool, ...]]) -> Any:
        wanted = list(vectors)
        return _vectors(self.booleans(), wanted) if wanted else None

    def pattern(self, pattern: str, where: str) -> Any:
        """An account id against one wildcard pattern (StringLike, an ARN's account part)."""
        if not is_wildcard(pattern):
            return self.member([pattern])
        if any(c.isdigit() for c in pattern):
            raise Unmodelled(
                f"{where}: the account pattern {pattern!r} mixes digits and wildcards; prove "
                "models account ids written out and patterns without digits (such as *)"
            )
        # A pattern without digits cannot tell two 12-digit ids apart.
        return wildcard_regex(pattern, ignore_case=False).match("0" * 12) is not None


# ---------------------------------------------------------------- the request


@dataclass(frozen=True)
class ArnPart:
    """An ARN-valued key: partition ``aws``, a service, Region and resource; the caller's account.

    ``services`` holds one service, or two that the z3 Boolean
    ``service_choice`` chooses between (first when true).
    """

    services: tuple[str, ...]
    service_choice: Any
    region: str | StrTerm
    resource: str | StrTerm


@dataclass(frozen=True)
class Field:
    """One condition key of the request.

    ``kind``: ``string`` (``term``; ``colon_free`` when no value of its
    domain holds a colon), ``account``, ``arn`` (``arn``), or ``fixed`` (a
    plain ``value``, None when the key is absent, decided by the evaluator).
    ``present`` is a Boolean or a z3 Boolean.
    """

    kind: str
    present: Any = True
    term: StrTerm | None = None
    arn: ArnPart | None = None
    colon_free: bool = True
    value: str | None = None


@dataclass
class SymRequest:
    """A request: action (lower-cased), resource and each condition key, with their variables."""

    action: str | StrTerm
    resource: str | StrTerm
    fields: Mapping[str, Field]
    accounts: AccountSets
    variables: tuple[StrVar, ...]
    domain: list[Any] = field(default_factory=list)

    def field_for(self, key: str, operator: str, where: str) -> Field:
        found = self.fields.get(key)
        if found is None:
            raise Unmodelled(
                f"{where}: condition key {key!r} (operator {operator}) is not modelled by prove; "
                "it models aws:RequestedRegion, aws:PrincipalAccount, aws:PrincipalArn, "
                "aws:PrincipalOrgPaths and bedrock:InferenceProfileArn"
            )
        return found

    def constraints(self) -> Any:
        """The domain: each variable's cells, the account's vectors, the request's own rules."""
        return conj(
            *[v.constraint() for v in self.variables],
            self.accounts.realizable(),
            *self.domain,
        )


# ---------------------------------------------------------------- conditions


def _if(condition: Bool, then: Bool, otherwise: Bool) -> Bool:
    return ite(condition, then, otherwise)


def _part(pattern: str, value: str | StrTerm) -> Any:
    """One part of an ARN against one part of a pattern (``*`` and ``?`` within the part)."""
    return _test(
        value,
        wildcard(pattern),
        lambda v: wildcard_regex(pattern, ignore_case=False).match(v) is not None,
    )


def _split(pattern: str) -> tuple[str, ...] | None:
    parts = pattern.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return tuple(parts)


def _service(arn: ArnPart, test: Any) -> Any:
    if len(arn.services) == 1:
        return bool(test(arn.services[0]))
    first, second = arn.services
    return ite(arn.service_choice, bool(test(first)), bool(test(second)))


def arn_like(arn: ArnPart, accounts: AccountSets, pattern: str, where: str) -> Any:
    """ArnLike (and ArnEquals, which the evaluator treats alike) of one pattern."""
    parts = _split(pattern)
    if parts is None:
        return False
    service_re = wildcard_regex(parts[2], ignore_case=False)
    return conj(
        _part(parts[1], "aws"),
        _service(arn, lambda svc: service_re.match(svc) is not None),
        _part(parts[3], arn.region),
        accounts.pattern(parts[4], where),
        _part(parts[5], arn.resource),
    )


def _arn_equals(arn: ArnPart, accounts: AccountSets, value: str) -> Any:
    """StringEquals of the whole ARN: each part equal, written out."""
    parts = _split(value)
    if parts is None or parts[1] != "aws" or not ACCOUNT_ID_PATTERN.match(parts[4]):
        return False
    return conj(
        _service(arn, lambda svc: svc == parts[2]),
        _test(arn.region, literal(parts[3]), lambda v: v == parts[3]),
        accounts.member([parts[4]]),
        _test(arn.resource, literal(parts[5]), lambda v: v == parts[5]),
    )


def _value_match(atom: Any, target: Field, req: SymRequest, where: str) -> Any:
    """Whether the key's value matches one of the atom's values (z3 Boolean)."""
    kind, values = atom.kind, tuple(atom.values)
    refused = Unmodelled(
        f"{where}: operator {atom.operator} on {atom.key} is not modelled by prove "
        "(docs/scp-evaluation.md, Proof, says what is)"
    )
    if kind == "bool":
        raise refused
    if target.kind == "string":
        assert target.term is not None
        if kind in ("string", "istring"):
            return disj(*[target.term.matches(literal(v, kind == "istring")) for v in values])
        if kind == "like":
            return disj(*[target.term.matches(wildcard(v)) for v in values])
        if kind == "arn" and target.colon_free:
            return False
        raise refused
    if target.kind == "account":
        if kind in ("string", "istring"):
            return req.accounts.member(values)
        if kind == "like":
            return disj(*[req.accounts.pattern(v, where) for v in values])
        if kind == "arn":
            return False  # an account id has no colon
        raise refused
    if target.kind == "arn":
        assert target.arn is not None
        if kind == "arn":
            return disj(*[arn_like(target.arn, req.accounts, v, where) for v in values])
        if kind == "string":
            return disj(*[_arn_equals(target.arn, req.accounts, v) for v in values])
        raise refused
    raise refused


def _atom_formula(atom: Any, req: SymRequest, where: str) -> Any:
    target = req.field_for(atom.key, atom.operator, where)
    if target.kind == "fixed":
        value = None if target.value is None else (target.value,)
        return bool(atom.outcome(value) & 1)
    present = target.present
    if atom.kind == "null":
        values = [str(v).lower() for v in atom.values]
        want_absent = any(v == "true" for v in values)
        want_present = any(v != "true" for v in values)
        return _if(present, want_present, want_absent)
    hit = _value_match(atom, target, req, where)
    result = neg(hit) if atom.negated else hit
    if atom.if_exists or atom.qualifier == "ForAllValues":
        when_absent = True
    elif atom.qualifier == "ForAnyValue":
        when_absent = False
    else:
        when_absent = atom.negated
    return _if(present, result, when_absent)


# ---------------------------------------------------------------- statements and paths


@dataclass(frozen=True)
class Statement:
    deny: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    atoms: tuple[Any, ...]
    where: str


@dataclass(frozen=True)
class PolicyProgram:
    """One SCP, compiled by the evaluator, with its statements' patterns."""

    policy: Policy
    statements: tuple[Statement, ...]


def _strings(value: Any) -> tuple[str, ...]:
    out = []
    for item in as_list(value):
        if isinstance(item, bool):
            out.append("true" if item else "false")
        else:
            out.append(str(item))
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def program(policy: Policy) -> PolicyProgram:
    """The policy compiled by the evaluator (its grammar and refusals), with its patterns."""
    try:
        compiled: CompiledPolicy = compile_policy(policy)
        document = decode_scp(policy.document)
    except (PolicyError, ScpDecodeError) as exc:
        raise PolicyRefused(str(exc)) from exc
    raw = document["Statement"]
    raw_list = raw if isinstance(raw, list) else [raw]
    statements = []
    for st, item in zip(compiled.statements, raw_list, strict=True):
        label = f'statement "{st.sid}"' if st.sid else f"statement #{st.index + 1}"
        statements.append(
            Statement(
                st.deny,
                _strings(item["NotAction" if st.not_action else "Action"]),
                st.not_action,
                _strings(item.get("NotResource" if st.not_resource else "Resource", "*")),
                st.not_resource,
                tuple(st.atoms),
                f'SCP "{policy.name}", {label}',
            )
        )
    return PolicyProgram(policy, tuple(statements))


def patterns_lang(patterns: Sequence[str], *, action: bool) -> Lang:
    """One language for a list of Action (lower-cased) or Resource patterns."""
    langs = [wildcard(p.lower() if action else p) for p in patterns]
    return strcells.union(langs, ", ".join(patterns))


_LANGS: dict[tuple[tuple[str, ...], bool], Lang] = {}


def _patterns_hit(value: str | StrTerm, patterns: tuple[str, ...], *, action: bool) -> Any:
    if "*" in patterns:
        return True
    if isinstance(value, StrTerm):
        lang = _LANGS.get((patterns, action))
        if lang is None:
            lang = patterns_lang(patterns, action=action)
            _LANGS[(patterns, action)] = lang
        return value.matches(lang)
    return any(wildcard_regex(p, ignore_case=action).match(value) is not None for p in patterns)


def _statement_formula(st: Statement, req: SymRequest) -> Any:
    action = _patterns_hit(req.action, st.actions, action=True)
    resource = _patterns_hit(req.resource, st.resources, action=False)
    covers = conj(
        neg(action) if st.not_action else action,
        neg(resource) if st.not_resource else resource,
    )
    conditions = [_atom_formula(atom, req, st.where) for atom in st.atoms]
    return conj(covers, *conditions)


def allowed(levels: Sequence[Sequence[Policy]], req: SymRequest) -> Any:
    """True exactly when the SCPs on ``levels`` (root, OUs..., account) allow ``req``."""
    denies: list[Any] = []
    level_allows: list[Any] = []
    for policies in levels:
        allows: list[Any] = []
        for policy in policies:
            for st in program(policy).statements:
                formula = _statement_formula(st, req)
                (denies if st.deny else allows).append(formula)
        level_allows.append(disj(*allows) if allows else False)
    return conj(neg(disj(*denies)) if denies else True, *level_allows)


def statements_on(levels: Sequence[Sequence[Policy]]) -> Iterable[Statement]:
    for policies in levels:
        for policy in policies:
            yield from program(policy).statements


def policy_keys(levels: Sequence[Sequence[Policy]]) -> frozenset[str]:
    """Every condition key the policies on ``levels`` test (lower-cased)."""
    return frozenset(atom.key for st in statements_on(levels) for atom in st.atoms)
