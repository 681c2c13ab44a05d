"""Markdown for the reports a pull request shows: escaping, one place.

Text from the inputs (account names, reasons, facts) reaches a pull-request
comment through these functions only. Besides markdown's own characters,
they keep ``@name`` from being a GitHub mention, which would notify that user
or team: a backslash does not stop GitHub's mention filter, which runs on the
rendered text (github/markup issue 1168), an empty HTML comment between the
``@`` and the name does, and renders as nothing.
"""

from __future__ import annotations

import re

__all__ = ["md_code", "md_escape", "md_line"]

# An @ that GitHub could take as the start of a mention (@user, @org/team):
# one after a letter, digit or underscore (an e-mail address) is not.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")


def md_escape(text: str) -> str:
    """Escape the characters markdown would take as formatting in table cells and lists."""
    return _MENTION.sub("@<!-- -->", re.sub(r"([\\`*_|<>\[\]])", r"\\\1", text))


def md_line(text: str) -> str:
    """One markdown list item: line breaks folded, HTML and table characters escaped."""
    return md_escape(" ".join(text.split()))


def md_code(text: str) -> str:
    """``text`` as one inline code span, line breaks folded (not for a table cell).

    Backslashes are not escapes inside a code span, so the fence is one
    backtick longer than the longest run of backticks in the text, with a
    space inside each end where the text begins or ends with one (CommonMark,
    "Code spans"). GitHub finds no mention inside code.
    """
    folded = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", folded)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if folded.startswith("`") or folded.endswith("`") else ""
    return f"{fence}{pad}{folded}{pad}{fence}"
