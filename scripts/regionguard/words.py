"""Counted nouns in messages: "1 warning", "2 warnings", never "1 warnings" nor a "(s)" suffix."""

from __future__ import annotations

__all__ = ["count", "noun"]


def noun(n: int, singular: str, plural: str | None = None) -> str:
    """``singular`` for one, else ``plural`` (by default ``singular`` + "s")."""
    return singular if n == 1 else (plural if plural is not None else singular + "s")


def count(n: int, singular: str, plural: str | None = None, *, thousands: bool = False) -> str:
    """``n`` and its noun: ``count(1, "warning")`` is "1 warning", ``count(0, ...)`` "0 warnings".

    ``thousands`` writes the number with separators (``1,024 accounts``).
    """
    number = f"{n:,}" if thousands else str(n)
    return f"{number} {noun(n, singular, plural)}"
