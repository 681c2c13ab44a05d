"""Markdown for the reports a pull request shows: escaping, one place."""

from __future__ import annotations

import re

__all__ = ["md_escape", "md_line"]


def md_escape(text: str) -> str:
    """Escape the characters markdown would take as formatting in table cells and lists."""
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", text)


def md_line(text: str) -> str:
    """One markdown list item: line breaks folded, HTML and table characters escaped."""
    return md_escape(" ".join(text.split()))
