"""The string parts of a request, cut into the finitely many cells a policy can tell apart.

A condition or an Action/Resource element tests a string against IAM
wildcard patterns (``*`` any run, ``?`` one character) and literals. For one
string variable and the patterns tested on it, each string has a *vector*:
which patterns it matches. Only finitely many vectors occur, and a formula
over the variable depends on it only through its vector; so the variable can
be replaced by one Boolean per pattern, constrained to the vectors some
string of the variable's domain realizes. :func:`cells` computes those
vectors exactly, each with a witness string: it explores the product of the
patterns' automata breadth-first over an alphabet in which characters no
pattern or domain tells apart are one symbol.

A pattern may be tested on a string that follows a fixed prefix (the model
id in ``arn:aws:bedrock:us-east-1::foundation-model/<model>``): its automaton
then starts where reading the prefix leaves it.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ANY",
    "Lang",
    "Step",
    "cells",
    "literal",
    "vector",
    "wildcard",
]

ANY: frozenset[str] | None = None
"""The character set of ``*`` and ``?``: every character."""


@dataclass(frozen=True)
class Step:
    """One character of ``chars`` (None: any character), once or any number of times."""

    chars: frozenset[str] | None
    repeat: bool = False


@dataclass(frozen=True, eq=False)
class Lang:
    """A language: the union of its alternatives, each a sequence of steps."""

    alts: tuple[tuple[Step, ...], ...]
    text: str

    def __post_init__(self) -> None:
        # Languages are dictionary keys of every memo: hash them once.
        object.__setattr__(self, "_hash", hash((self.text, self.alts)))

    def __hash__(self) -> int:
        value: int = self.__dict__["_hash"]
        return value

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Lang) or hash(self) != hash(other):
            return False
        return self.text == other.text and self.alts == other.alts

    def __str__(self) -> str:
        return self.text


@functools.cache
def wildcard(pattern: str, ignore_case: bool = False) -> Lang:
    """An IAM wildcard pattern; literal characters compared with or without case."""
    steps = []
    for c in pattern:
        if c == "*":
            steps.append(Step(ANY, True))
        elif c == "?":
            steps.append(Step(ANY))
        elif ignore_case and c.lower() != c.upper():
            steps.append(Step(frozenset({c.lower(), c.upper()})))
        else:
            steps.append(Step(frozenset(c)))
    return Lang((tuple(steps),), pattern)


@functools.cache
def literal(text: str, ignore_case: bool = False) -> Lang:
    """Exactly ``text`` (no wildcards)."""
    steps = tuple(
        Step(frozenset({c.lower(), c.upper()}) if ignore_case else frozenset(c)) for c in text
    )
    return Lang((steps,), text)


def union(langs: Sequence[Lang], text: str) -> Lang:
    return Lang(tuple(alt for lang in langs for alt in lang.alts), text)


# ---------------------------------------------------------------- automata

_State = frozenset[tuple[int, int]]


def _closure(lang: Lang, states: Iterable[tuple[int, int]]) -> _State:
    out: set[tuple[int, int]] = set()
    stack = list(states)
    while stack:
        a, i = stack.pop()
        if (a, i) in out:
            continue
        out.add((a, i))
        alt = lang.alts[a]
        if i < len(alt) and alt[i].repeat:
            stack.append((a, i + 1))
    return frozenset(out)


# A state from which every continuation is accepted (the rest of a pattern is "*"):
# all such states are one, so the product of the automata stays small.
_ALL: _State = frozenset({(-1, -1)})


@functools.cache
def _universal(lang: Lang) -> frozenset[tuple[int, int]]:
    """Positions from which only ``*`` steps remain: every continuation is accepted."""
    out = set()
    for a, alt in enumerate(lang.alts):
        for i in range(len(alt)):
            if all(st.chars is None and st.repeat for st in alt[i:]):
                out.add((a, i))
    return frozenset(out)


@functools.lru_cache(maxsize=1 << 18)
def _step(lang: Lang, states: _State, char: str) -> _State:
    if states is _ALL:
        return _ALL
    moved = []
    for a, i in states:
        alt = lang.alts[a]
        if i < len(alt):
            st = alt[i]
            if st.chars is None or char in st.chars:
                moved.append((a, i) if st.repeat else (a, i + 1))
    return _settle(lang, _closure(lang, moved)) if moved else frozenset()


def _settle(lang: Lang, states: _State) -> _State:
    return _ALL if states & _universal(lang) else states


def _accepts(lang: Lang, states: _State) -> bool:
    return states is _ALL or any(i == len(lang.alts[a]) for a, i in states)


def _start(lang: Lang, prefix: str) -> _State:
    states = _settle(lang, _closure(lang, ((a, 0) for a in range(len(lang.alts)))))
    for char in prefix:
        states = _step(lang, states, char)
    return states


def vector(domain: Lang, atoms: Sequence[tuple[Lang, str]], value: str) -> tuple[bool, ...] | None:
    """The vector of ``value`` (None when it is outside the domain)."""
    return _vector(domain, tuple(atoms), value)


# A proof asks for the vectors of the same few strings (the preferred Regions,
# actions and principals) at every place: 14,320 automaton runs at 200 OUs.
@functools.lru_cache(maxsize=1 << 16)
def _vector(
    domain: Lang, atoms: tuple[tuple[Lang, str], ...], value: str
) -> tuple[bool, ...] | None:
    def run(lang: Lang, prefix: str) -> bool:
        states = _start(lang, prefix)
        for char in value:
            states = _step(lang, states, char)
            if not states:
                return False
        return _accepts(lang, states)

    if not run(domain, ""):
        return None
    return tuple(run(lang, prefix) for lang, prefix in atoms)


def _symbols(langs: Sequence[Lang]) -> tuple[str, ...]:
    """One character per class of characters that no step tells apart."""
    sets = list(
        dict.fromkeys(st.chars for lang in langs for alt in lang.alts for st in alt if st.chars)
    )
    chars = sorted(set().union(*sets)) if sets else []
    profiles: dict[tuple[bool, ...], str] = {}
    for c in chars:
        profile = tuple(c in s for s in sets)
        best = profiles.get(profile)
        if best is None or (not best.isalnum() and c.isalnum()):
            profiles[profile] = c
    symbols = list(profiles.values())
    if any(st.chars is None for lang in langs for alt in lang.alts for st in alt):
        known = set(chars)
        other = next(
            (c for c in "xqzjkvwXQZ0123456789_~" if c not in known),
            next(chr(n) for n in range(0x100, 0x10000) if chr(n) not in known),
        )
        symbols.append(other)
    return tuple(symbols)


# Cells of one (domain, atoms) question: memo, as every OU asks the same.
_MEMO: dict[tuple[Lang, tuple[tuple[Lang, str], ...]], dict[tuple[bool, ...], str]] = {}


def cells(domain: Lang, atoms: Sequence[tuple[Lang, str]]) -> dict[tuple[bool, ...], str]:
    """Every vector some string of ``domain`` has, with the shortest such string.

    Exact: breadth-first over the product of the automata (the domain's,
    then each atom's, started after its prefix); a product state whose
    domain automaton is dead is not expanded.

    A product state keeps apart the atoms whose automaton is dead (they
    match nothing longer) and those that accept every continuation
    (:data:`_ALL`): neither moves again, so only the others are stepped.
    After a few characters most atoms are one or the other (the 99 model
    and profile ids of P3: each dies at its first character that differs).
    """
    key = (domain, tuple(atoms))
    hit = _MEMO.get(key)
    if hit is not None:
        return hit
    langs = [lang for lang, _ in atoms]
    symbols = _symbols([domain, *langs])
    # Characters no atom expects at a state, and alike for the domain, move alike:
    # one of them stands for all (see _moves).
    domain_sets = list(dict.fromkeys(st.chars for alt in domain.alts for st in alt if st.chars))
    profile = {c: tuple(c in cs for cs in domain_sets) for c in symbols}
    starts = [_start(lang, prefix) for lang, prefix in atoms]
    # (the domain's state, (atom, state) of each atom still moving, the atoms accepting all)
    start = (
        _start(domain, ""),
        tuple((k, s) for k, s in enumerate(starts) if s and s is not _ALL),
        frozenset(k for k, s in enumerate(starts) if s is _ALL),
    )
    seen = {start}
    queue: deque[tuple[tuple[_State, tuple[tuple[int, _State], ...], frozenset[int]], str]]
    queue = deque([(start, "")])
    found: dict[frozenset[int], str] = {}
    while queue:
        (here, moving, universal), text = queue.popleft()
        if _accepts(domain, here):
            accepting = universal.union(k for k, s in moving if _accepts(langs[k], s))
            found.setdefault(accepting, text)
        expected: set[str] = set()
        for k, s in moving:
            expected |= _expected(langs[k], s)
        for char in _moves(symbols, expected, profile):
            there = _step(domain, here, char)
            if not there:
                continue
            still = []
            reached = universal
            for k, s in moving:
                nxt = _step(langs[k], s, char)
                if nxt is _ALL:
                    reached = reached | {k}
                elif nxt:
                    still.append((k, nxt))
            state = (there, tuple(still), reached)
            if state in seen:
                continue
            seen.add(state)
            queue.append((state, text + char))
    out = {
        tuple(k in accepting for k in range(len(atoms))): text for accepting, text in found.items()
    }
    _MEMO[key] = out
    return out


@functools.lru_cache(maxsize=1 << 16)
def _expected(lang: Lang, states: _State) -> frozenset[str]:
    """The characters a step at ``states`` names explicitly."""
    if states is _ALL:
        return frozenset()
    out: set[str] = set()
    for a, i in states:
        alt = lang.alts[a]
        chars = alt[i].chars if i < len(alt) else None
        if chars is not None:
            out |= chars
    return frozenset(out)


def _moves(
    symbols: Sequence[str], expected: set[str], profile: dict[str, tuple[bool, ...]]
) -> list[str]:
    """The symbols to try: each one an atom expects, and one per domain profile of the rest."""
    out = []
    spare: set[tuple[bool, ...]] = set()
    for c in symbols:
        if c in expected:
            out.append(c)
        elif profile[c] not in spare:
            spare.add(profile[c])
            out.append(c)
    return out
