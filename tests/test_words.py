"""Counted nouns: one helper (regionguard.words), and no "(s)" left in any message."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from regionguard.words import count, noun

PACKAGE = Path(__file__).resolve().parent.parent / "scripts" / "regionguard"


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "0 warnings"), (1, "1 warning"), (2, "2 warnings"), (-1, "-1 warnings")],
)
def test_count_writes_the_singular_for_one_only(n: int, expected: str) -> None:
    assert count(n, "warning") == expected


def test_an_irregular_plural_and_thousands() -> None:
    assert count(1, "policy", "policies") == "1 policy"
    assert count(3, "policy", "policies") == "3 policies"
    assert count(1024, "permitted account", thousands=True) == "1,024 permitted accounts"
    assert count(1, "more account", thousands=True) == "1 more account"
    assert noun(1, "has", "have") == "has"
    assert noun(2, "has", "have") == "have"


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_message_of_the_package_writes_a_plural_as_s_in_parentheses() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, text in _strings(ast.parse(path.read_text(encoding="utf-8")))
        if re.search(r"[a-z]\(s\)", text)
    ]
    assert found == []
