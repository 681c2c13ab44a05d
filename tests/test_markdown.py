"""Text from the inputs, as a pull-request comment shows it (regionguard.markdown)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from regionguard.markdown import md_code, md_escape, md_line
from regionguard.planfile import parse_plan
from regionguard.review import review_plan
from regionguard.review_format import format_review

PLANS = Path(__file__).parent / "fixtures" / "plans" / "good"
# What GitHub's mention filter finds in rendered text (github/markup issue 1168).
MENTION = re.compile(r"(?:^|[^A-Za-z0-9`])@[A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9_.-]+)?")


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("payments", "payments"),
        ("@octocat", "@<!-- -->octocat"),
        ("ping @acme/security-team now", "ping @<!-- -->acme/security-team now"),
        ("ops@example.com", "ops@example.com"),
        ("(@octocat)", "(@<!-- -->octocat)"),
        ("a @ b", "a @ b"),
        ("*bold* | <b>", "\\*bold\\* \\| \\<b\\>"),
        ("\\@octocat", "\\\\@<!-- -->octocat"),
        ("<!-- -->", "\\<!-- --\\>"),
    ],
)
def test_md_escape(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


def test_md_line_folds_line_breaks() -> None:
    assert md_line("one\n  two\t@three") == "one two @<!-- -->three"


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("payments cannot invoke Bedrock", "`payments cannot invoke Bedrock`"),
        ("uses `code`", "`` uses `code` ``"),
        ("`x`", "`` `x` ``"),
        ("a ``b`` c\nd", "```a ``b`` c d```"),
        ("@octocat \\*", "`@octocat \\*`"),
    ],
)
def test_md_code(text: str, span: str) -> None:
    assert md_code(text) == span


def test_an_account_named_as_a_mention_mentions_no_one_in_the_review() -> None:
    text = (PLANS / "permit-account" / "plan.json").read_text()
    plan = parse_plan(text, "plan.json")
    names = {i: f"@acme/team-{i}" for i in set(re.findall(r"\b\d{12}\b", text))}
    markdown = format_review(review_plan(plan, account_names=names), "markdown")
    assert "@<!-- -->acme/team-100000000002" in markdown
    assert MENTION.findall(markdown) == []
