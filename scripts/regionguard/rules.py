"""The rules that keep the door closed, each written once.

Pure functions over plain values (decoded JSON), called by ``validate``, by
the plan review and gate, and by the checkov checks of ``policies/checkov``.
checkov's virtual environment installs this package without its
dependencies, so this module imports the standard library only.

The central rule: an action in the Region deny control's ``ExemptedActions``
escapes the Region deny for every account of the OU; only a *guard
statement* of an SCP attached to the same OU keeps it inside the allowed
Regions for the accounts not permitted (:func:`unguarded_actions`).
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "ACCOUNT_ENTRY_CHARS",
    "ACCOUNT_ID_PATTERN",
    "CONTROL_IDENTIFIER_PATTERN",
    "CONTROL_PARAMETERS",
    "FIRST_ACCOUNT_CHARS",
    "PRINCIPAL_ARN_PATTERN",
    "REGION_CODE_PATTERN",
    "SCP_NAME_PATTERN",
    "SPARED_PATH_PATTERN",
    "SPARE_OPERATOR",
    "UNSPECIFIED_REGION",
    "as_list",
    "covers",
    "decode_parameter",
    "decode_parameters",
    "denied_actions",
    "guard_problems",
    "guarded_by",
    "is_wildcard",
    "pattern_matches",
    "room_for_accounts",
    "spared_ou_ids",
    "spared_unguarded",
    "statements",
    "unguarded_actions",
    "wildcard_regex",
]

REGION_KEY = "aws:requestedregion"
ACCOUNT_KEY = "aws:principalaccount"
ORG_PATHS_KEY = "aws:principalorgpaths"
# The one extra operator a guard may carry: it spares the accounts of named
# child OUs, which carry a guard of their own (the per_ou layout's descent).
SPARE_OPERATOR = "ForAllValues:StringNotLike"
# A spared path names an OU below the first tier exactly, and everything
# under it: "<organization id>/<root id>/<OU id>/<OU id>/.../*" (IAM User
# Guide, aws:PrincipalOrgPaths). Never a first-tier OU, never a wildcard
# standing for an OU.
SPARED_PATH_PATTERN = re.compile(
    r"o-[a-z0-9]{10,32}/r-[0-9a-z]{4,32}/(?:ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}/){2,}\*"
)

# The Region deny control's parameters (AWS Control Tower control reference,
# CT.MULTISERVICE.PV.1); the casing of each key matters.
CONTROL_PARAMETERS = ("AllowedRegions", "ExemptedActions", "ExemptedPrincipalArns")
# Documented pattern of ExemptedPrincipalArns (same page).
PRINCIPAL_ARN_PATTERN = re.compile(r"^arn:(aws|aws-us-gov):(iam|sts)::.+:.+$")
# The shape of a Region code; the modules' variable validations use the same
# expression (tests/test_rules.py binds them).
REGION_CODE_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
# An SCP's name, as modules/bedrock-inference-scp validates var.name (AWS
# Organizations CreatePolicy: Name); ASCII, as RE2's \w in Terraform.
SCP_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{1,128}$", re.ASCII)
# A control's ARN, as modules/region-deny-control validates control_identifier.
CONTROL_IDENTIFIER_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:(controlcatalog:::control/[0-9a-z]+|controltower:[a-z0-9-]+::control/[A-Za-z0-9_.-]+)$"
)
# An AWS account id: exactly 12 digits.
ACCOUNT_ID_PATTERN = re.compile(r"^[0-9]{12}$")
# aws:RequestedRegion of the global inference profile leg (Amazon Bedrock
# user guide, "global cross-Region inference").
UNSPECIFIED_REGION = "unspecified"

# One more account in an aws:PrincipalAccount list: ,"123456789012"
ACCOUNT_ENTRY_CHARS = len(',"123456789012"')
# The first account also brings its key: ,"aws:PrincipalAccount":["123456789012"]
FIRST_ACCOUNT_CHARS = len(',"aws:PrincipalAccount":["123456789012"]')


# ---------------------------------------------------------------- values


def as_list(value: Any) -> list[Any]:
    """A policy element's value as a list: IAM accepts a single value for a one-item list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def statements(document: Mapping[str, Any]) -> list[Any]:
    """The Statement element of a policy document as a list (a single object is allowed)."""
    statement = document.get("Statement", [])
    return [statement] if isinstance(statement, dict) else as_list(statement)


# ---------------------------------------------------------------- actions


def is_wildcard(action: str) -> bool:
    """Whether an IAM action (or a resource ARN) is a wildcard pattern: it holds ``*`` or ``?``."""
    return "*" in action or "?" in action


@functools.lru_cache(maxsize=4096)
def wildcard_regex(pattern: str, ignore_case: bool = True) -> re.Pattern[str]:
    """An IAM wildcard pattern (``*`` any run, ``?`` one character) as a compiled regex.

    Anchored at both ends when used with ``match``. Action names compare
    case-insensitively (IAM JSON policy elements: Action); condition values of
    the ``StringLike``/``ArnLike`` operators case-sensitively.
    """
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(regex + r"\Z", flags)


def pattern_matches(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern (``*`` any run, ``?`` one character) matches an action."""
    return wildcard_regex(pattern).match(action) is not None


def covers(pattern: str, action: str) -> bool:
    """Whether ``pattern`` names every action that ``action`` names, now and later.

    A concrete action is covered by any pattern that matches it. An action
    that is itself a pattern is covered only by the same pattern or by a
    pattern ``prefix*`` whose literal prefix it starts with: any other
    answer would depend on which actions AWS has today.
    """
    if not is_wildcard(action):
        return pattern_matches(pattern, action)
    if pattern.lower() == action.lower():
        return True
    prefix = pattern[:-1]
    return (
        pattern.endswith("*")
        and not is_wildcard(prefix)
        and action.lower().startswith(prefix.lower())
    )


def _overlaps(pattern: str, action: str) -> bool:
    return pattern_matches(pattern, action) or pattern_matches(action, pattern)


def denied_actions(statement: Mapping[str, Any], candidates: Iterable[str]) -> list[str]:
    """Which of the candidate actions a statement applies to in full (Action or NotAction)."""
    if "NotAction" in statement:
        excluded = [str(a) for a in as_list(statement["NotAction"])]
        return [a for a in candidates if not any(_overlaps(p, a) for p in excluded)]
    actions = [str(a) for a in as_list(statement.get("Action"))]
    return [a for a in candidates if any(covers(p, a) for p in actions)]


# ---------------------------------------------------------------- guards


def guard_problems(statement: Mapping[str, Any]) -> list[str]:
    """Why a statement is not a guard (empty: it is one).

    A guard is a Deny on Resource ``"*"`` whose Condition is exactly
    ``StringNotEquals`` with ``aws:RequestedRegion`` and, optionally,
    ``aws:PrincipalAccount`` (the permitted accounts). Any other operator or
    key is ANDed in (IAM JSON policy elements: Condition, "evaluation
    logic for conditions with multiple keys") and narrows the Deny, so the
    statement no longer denies the action for every non-permitted call.
    """
    if statement.get("Effect") != "Deny":
        return ["it is not a Deny"]
    problems: list[str] = []
    if as_list(statement.get("Resource")) != ["*"]:
        problems.append('its Resource is not "*"')
    condition = statement.get("Condition")
    if not isinstance(condition, dict) or not condition:
        return [*problems, "it has no Region condition"]
    operators = sorted(condition)
    if operators not in (["StringNotEquals"], [SPARE_OPERATOR, "StringNotEquals"]):
        problems.append(
            f"its Condition uses {operators}; only StringNotEquals (and {SPARE_OPERATOR} "
            "aws:PrincipalOrgPaths naming child OUs) is allowed"
        )
    elif SPARE_OPERATOR in condition:
        problems.extend(_spare_problems(condition[SPARE_OPERATOR]))
    block = condition.get("StringNotEquals")
    if not isinstance(block, dict):
        return [*problems, "it has no StringNotEquals aws:RequestedRegion condition"]
    keys = {str(k).lower(): v for k, v in block.items()}
    if len(keys) < len(block):
        # "Context key names are not case-sensitive" (IAM JSON policy elements:
        # Condition): two spellings of one key are one key with two lists,
        # which this project's readers would each take differently.
        spellings = Counter(str(k).lower() for k in block)
        twice = sorted(k for k, n in spellings.items() if n > 1)
        problems.append(f"its StringNotEquals names {twice} more than once (in another case)")
    extra = sorted(k for k in keys if k not in (REGION_KEY, ACCOUNT_KEY))
    if extra:
        problems.append(f"its StringNotEquals also tests {extra}, which narrows the Deny")
    regions = [str(r) for r in as_list(keys.get(REGION_KEY))]
    if not regions:
        problems.append("it has no aws:RequestedRegion values")
    # "unspecified" is no Region code: a guard that lists it leaves global
    # inference profiles open to every account.
    bad = [r for r in regions if not REGION_CODE_PATTERN.match(r)]
    if bad:
        problems.append(f"its aws:RequestedRegion values {bad} are not Region codes")
    if ACCOUNT_KEY in keys and not as_list(keys[ACCOUNT_KEY]):
        problems.append("its aws:PrincipalAccount list is empty (invalid grammar)")
    return problems


def _spare_problems(block: Any) -> list[str]:
    if not isinstance(block, dict) or [str(k).lower() for k in block] != [ORG_PATHS_KEY]:
        return [f"its {SPARE_OPERATOR} tests something else than aws:PrincipalOrgPaths"]
    paths = [str(v) for v in as_list(next(iter(block.values())))]
    bad = [p for p in paths if not SPARED_PATH_PATTERN.fullmatch(p)]
    if not paths or bad:
        return [
            f"its aws:PrincipalOrgPaths values {bad or paths} do not each name one OU below "
            "the first tier (o-.../r-.../ou-.../ou-.../*)"
        ]
    return []


def spared_ou_ids(statement: Mapping[str, Any]) -> tuple[str, ...]:
    """The OUs a guard statement spares by aws:PrincipalOrgPaths (their accounts need a guard)."""
    condition = statement.get("Condition")
    block = condition.get(SPARE_OPERATOR) if isinstance(condition, dict) else None
    if not isinstance(block, dict):
        return ()
    out = []
    for values in block.values():
        for path in as_list(values):
            parts = str(path).rstrip("*").rstrip("/").split("/")
            out.append(parts[-1])
    return tuple(dict.fromkeys(out))


def guard_regions(statement: Mapping[str, Any]) -> tuple[str, ...]:
    """The Regions a guard statement leaves open (its aws:RequestedRegion values)."""
    block = (statement.get("Condition") or {}).get("StringNotEquals") or {}
    for key, values in block.items():
        if str(key).lower() == REGION_KEY:
            return tuple(str(v) for v in as_list(values))
    return ()


def guarded_by(documents: Iterable[Mapping[str, Any]], candidates: Sequence[str]) -> set[str]:
    """Which candidate actions a guard statement of one of the documents denies."""
    guarded: set[str] = set()
    for document in documents:
        for statement in statements(document):
            if isinstance(statement, dict) and not guard_problems(statement):
                guarded.update(denied_actions(statement, candidates))
    return guarded


def unguarded_actions(exempted: Sequence[str], documents: Iterable[Mapping[str, Any]]) -> list[str]:
    """Exempted actions that no guard statement of the OU's SCPs denies: open to every account."""
    guarded = guarded_by(documents, exempted)
    return [a for a in exempted if a not in guarded]


def spared_unguarded(
    exempted: Sequence[str],
    documents: Sequence[Mapping[str, Any] | None],
    child_documents: Callable[[str], Iterable[Mapping[str, Any] | None]],
) -> dict[str, list[str]]:
    """The exempted actions open to the accounts of each child OU a guard of ``documents`` spares.

    ``documents`` are the SCPs attached to a first-tier OU (None: one that
    cannot be read); ``child_documents(ou_id)`` those attached to a child OU
    one of them spares by aws:PrincipalOrgPaths. Every SCP attached to an OU
    applies to every account under it, and a Deny of any of them denies
    (AWS Organizations User Guide, "SCP evaluation"), so an action is guarded
    for a spared child's accounts by a statement of the first-tier OU's SCPs
    that does not spare that child, or by an SCP attached to the child that
    spares nothing itself. Empty: every spared child is guarded.
    """
    readable = [d for d in documents if d is not None]
    spared: list[str] = []
    for document in readable:
        for statement in statements(document):
            if isinstance(statement, dict) and not guard_problems(statement):
                spared.extend(spared_ou_ids(statement))
    out: dict[str, list[str]] = {}
    for ou_id in dict.fromkeys(spared):
        covering: list[Mapping[str, Any]] = [
            {
                "Statement": [
                    s
                    for s in statements(d)
                    if not (isinstance(s, dict) and ou_id in spared_ou_ids(s))
                ]
            }
            for d in readable
        ]
        own = [
            d
            for d in child_documents(ou_id)
            if d is not None
            and not any(isinstance(s, dict) and spared_ou_ids(s) for s in statements(d))
        ]
        open_actions = unguarded_actions(exempted, covering + own)
        if open_actions:
            out[ou_id] = open_actions
    return out


# ---------------------------------------------------------------- size


def room_for_accounts(size: int, limit: int, account_lists: int) -> int:
    """About how many more permitted accounts fit in an SCP of ``size`` characters.

    Each account adds ``,"<12 digits>"`` to each aws:PrincipalAccount list;
    in an SCP without a list yet, the first one also brings the key.
    """
    left = limit - size
    if left < 0:
        return 0
    if account_lists == 0:
        if left < FIRST_ACCOUNT_CHARS:
            return 0
        return (left - FIRST_ACCOUNT_CHARS) // ACCOUNT_ENTRY_CHARS + 1
    return left // (ACCOUNT_ENTRY_CHARS * account_lists)


# ---------------------------------------------------------------- control parameters


def decode_parameter(value: Any) -> Any:
    """One parameter value as Terraform sends it to Control Tower (JSON text), decoded.

    A value that is not a string, or not JSON, comes back as it is.
    """
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value


def decode_parameters(raw: Mapping[str, Any]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """The control's parameters as lists of strings, and the problems as (key, message).

    Each value may be the JSON-encoded string Terraform sends to Control
    Tower or an already-decoded list.
    """
    decoded: dict[str, list[str]] = {}
    problems: list[tuple[str, str]] = []
    for key, value in raw.items():
        if key not in CONTROL_PARAMETERS:
            problems.append((key, f"unknown parameter {key!r}"))
            continue
        if isinstance(value, str):
            decoded_value = decode_parameter(value)
            if decoded_value is value:
                problems.append((key, f"{key} is not JSON: {value!r}"))
                continue
            value = decoded_value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append((key, f"{key} must be a list of strings"))
            continue
        decoded[key] = value
    return decoded, problems
