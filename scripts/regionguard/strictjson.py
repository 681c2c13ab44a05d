"""JSON objects with each key once: a key written twice in one object is refused.

JSON leaves the meaning of a repeated name open (RFC 8259, section 4: "the
names within an object SHOULD be unique"), and readers disagree:
``json.loads`` keeps the last value, another reader may keep the first or
refuse. Where the other reader is Terraform or AWS, the two could then read
different documents (an SCP's ``"Effect": "Allow", "Effect": "Deny"``), so
the plan reader and the SCP reader refuse such a key instead of choosing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KeyGivenTwice", "unique_keys"]


class KeyGivenTwice(ValueError):
    """A JSON object that writes one key twice; ``key`` is the first such key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: the object, or KeyGivenTwice."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise KeyGivenTwice(key)
            seen.add(key)
    return out
