"""The one reader of an SCP document: what it means for this project.

:func:`read_scp` turns the content string sent to AWS Organizations into an
:class:`ScpView`: who is permitted, which Regions stay open, which actions
are guarded, the options (global inference, inference profile required) and
the size. A document that cannot be read keeps its error instead of raising,
so that a review can report it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from regionguard.rules import (
    ACCOUNT_KEY,
    REGION_KEY,
    UNSPECIFIED_REGION,
    as_list,
    guard_problems,
    statements,
)
from regionguard.strictjson import KeyGivenTwice, unique_keys

__all__ = [
    "UNSPECIFIED_REGION",
    "ScpDecodeError",
    "ScpView",
    "decode_scp",
    "read_scp",
    "read_scp_document",
]

_PROFILE_KEY = "bedrock:inferenceprofilearn"


@dataclass(frozen=True)
class ScpView:
    """What an SCP document means for this project: who, where and which actions."""

    content: str
    document: Mapping[str, Any] | None
    permitted_accounts: frozenset[str]
    allowed_regions: tuple[str, ...]
    guarded_actions: tuple[str, ...]
    denies_global_inference: bool
    profile_patterns: tuple[str, ...]
    statement_ids: tuple[str, ...]
    account_lists: int
    error: str | None = None

    @property
    def size(self) -> int:
        """Characters counted against the SCP size limit: the content exactly as sent."""
        return len(self.content)

    @property
    def global_option(self) -> str:
        """Who may use global inference profiles under this document."""
        if self.denies_global_inference:
            return "nobody"
        if UNSPECIFIED_REGION in self.allowed_regions:
            return "every account"
        return "permitted accounts only"

    @property
    def profile_option(self) -> str:
        if not self.profile_patterns:
            return "not required"
        return "required (" + ", ".join(self.profile_patterns) + ")"


class ScpDecodeError(ValueError):
    """An SCP content string that is no JSON document; the message says why."""


def decode_scp(content: str) -> Any:
    """The JSON value of an SCP content string; ScpDecodeError when there is none.

    The one place SCP text is decoded: the review, validate and the evaluator
    call it, so a document nested beyond any policy, or one giving a key
    twice in one object, is refused alike.
    """
    try:
        # JSON leaves a repeated key open and the IAM policy grammar does not say
        # which value AWS reads; json.loads alone would keep the last.
        return json.loads(content, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise ScpDecodeError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except KeyGivenTwice as exc:
        raise ScpDecodeError(
            f"JSON that gives the key {exc.key!r} twice in one object, and which of "
            "the two AWS reads is not documented"
        ) from None
    except RecursionError:
        raise ScpDecodeError("nested deeper than any policy document") from None


def read_scp(content: str) -> ScpView:
    """Read an SCP content string; an unreadable one keeps its error."""
    try:
        document = decode_scp(content)
    except ScpDecodeError as exc:
        return _unreadable(content, str(exc))
    return read_scp_document(document, content)


def read_scp_document(document: Any, content: str) -> ScpView:
    """Read a decoded SCP document (``content`` is its text as sent)."""
    if not isinstance(document, dict):
        return _unreadable(content, "not a JSON object")
    raw = document.get("Statement")
    if not isinstance(raw, (dict, list)):
        return _unreadable(content, "no Statement list")
    accounts: set[str] = set()
    regions: list[str] = []
    actions: list[str] = []
    patterns: list[str] = []
    sids: list[str] = []
    deny_global = False
    account_lists = 0
    for index, st in enumerate(statements(document)):
        if not isinstance(st, dict):
            return _unreadable(content, f"Statement[{index}] is not an object")
        sids.append(str(st.get("Sid", f"#{index}")))
        if st.get("Effect") != "Deny":
            continue
        condition = st.get("Condition")
        if not isinstance(condition, dict):
            continue
        if not guard_problems(st):
            actions.extend(str(a) for a in as_list(st.get("Action")) if a not in actions)
        for operator, keys in condition.items():
            if not isinstance(keys, dict):
                continue
            for key, values in keys.items():
                name = str(key).lower()
                items = [str(v) for v in as_list(values)]
                if str(operator).startswith("StringNotEquals") and name == ACCOUNT_KEY:
                    accounts.update(items)
                    account_lists += 1
                elif operator == "StringNotEquals" and name == REGION_KEY:
                    regions.extend(r for r in items if r not in regions)
                elif operator == "StringEquals" and name == REGION_KEY:
                    deny_global = deny_global or UNSPECIFIED_REGION in items
                elif str(operator).startswith("ArnNotLike") and name == _PROFILE_KEY:
                    patterns.extend(p for p in items if p not in patterns)
    return ScpView(
        content=content,
        document=document,
        permitted_accounts=frozenset(accounts),
        allowed_regions=tuple(regions),
        guarded_actions=tuple(actions),
        denies_global_inference=deny_global,
        profile_patterns=tuple(patterns),
        statement_ids=tuple(sids),
        account_lists=account_lists,
    )


def _unreadable(content: str, error: str) -> ScpView:
    return ScpView(content, None, frozenset(), (), (), False, (), (), 0, error)
