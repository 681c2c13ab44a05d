"""The HCL files regionguard reads itself: one parser (python-hcl2), one set of options.

``terraform.tfvars``, a Terraform CLI configuration, ``.terraform.lock.hcl`` and
the control module's ``variables.tf`` (preflight) are read here; the callers
word their own refusals around :class:`HclError`.
"""

from __future__ import annotations

import itertools
from typing import Any

__all__ = ["HclError", "loads"]


class HclError(ValueError):
    """The text is not HCL python-hcl2 reads; the message is the parser's first line."""


def loads(text: str) -> dict[str, Any]:
    """``text`` parsed: blocks as lists of one-key objects, strings without their quotes."""
    import hcl2  # imported here: about a second of grammar loading the first time
    from hcl2.rules.base import AttributeRule

    try:
        tree = hcl2.parses(text)
        # An attribute set twice: Terraform refuses the file ("Attribute
        # redefined"), where python-hcl2 keeps the last value.
        children = list(tree.body.children)
        names = [
            child.identifier.serialize() for child in children if isinstance(child, AttributeRule)
        ]
        # Two arguments on one line: Terraform refuses it ("Missing newline
        # after argument"), python-hcl2 reads both.
        joined = [
            str(second.identifier.serialize())
            for first, second in itertools.pairwise(children)
            if isinstance(first, AttributeRule) and isinstance(second, AttributeRule)
        ]
        data: dict[str, Any] = hcl2.serialize(
            tree,
            serialization_options=hcl2.SerializationOptions(
                strip_string_quotes=True, explicit_blocks=False, with_comments=False
            ),
        )
    except Exception as exc:  # lark raises several unrelated exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HclError(first) from None
    if joined:
        raise HclError(
            f"{joined[0]} is on the line of the argument before it (Terraform refuses it)"
        )
    twice = sorted({str(n) for n in names if names.count(n) > 1})
    if twice:
        raise HclError(f"{', '.join(twice)} set more than once (Terraform refuses the file)")
    return data
