"""The accounts registry (envs/<env>/accounts.yaml): loading, validation, permits.

The registry is the file people edit in pull requests, so every mistake in it
is reported here, in the user's terms, before anything reaches Terraform:

- the YAML is read by :mod:`regionguard.yamlfile`, which keeps what a reader
  sees: a value written as a YAML number (``id: 012345678901``) stays a
  number, even when YAML 1.1 would read it as a string or an octal integer,
  and is refused for an id; dates stay text; only ``true``/``false`` are
  booleans (``yes`` is a word, not a permit); a key written twice in one
  mapping is an error; anchors, aliases and merge keys are refused;
- the structure is checked against the JSON Schema shipped in
  ``regionguard/data/accounts.schema.json`` (unknown keys are refused, so a
  typo such as ``bedrock_cross_region_inferance`` cannot mean "not
  permitted");
- ids are unique, and so are names;
- account names and OU names are NFC text without control, invisible or
  mixed-script characters, and no two look alike (:mod:`regionguard.names`).

Every problem found is reported at once as an :class:`InputError` (exit 2)
whose lines name the file, the entry (index and name), the field and the fix.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema

from regionguard.errors import InputError
from regionguard.inputfile import REGISTRY
from regionguard.names import lookalikes, name_problems
from regionguard.schemas import fast_check, load_schema, validator
from regionguard.words import count
from regionguard.yamlfile import (
    NumbersAsWrittenLoader,
    YamlNumber,
    parse_yaml,
    read_text,
    shorten,
    show,
)

if TYPE_CHECKING:  # jsonschema is imported only to explain a registry that fails
    import jsonschema

__all__ = [
    "EXPIRY_WARNING_DAYS",
    "REGISTRY_FILE",
    "Account",
    "Registry",
    "load_registry",
    "parse_registry",
    "registry_schema",
]

REGISTRY_FILE = "accounts.yaml"
SCHEMA = "accounts"
# Permits that end within this many days are announced.
EXPIRY_WARNING_DAYS = 30
# At most this many problems are listed; the rest are counted.
_MAX_REPORTED = 25

_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Account:
    """One entry of the registry."""

    id: str
    name: str
    bedrock_cross_region_inference: bool
    expires: datetime.date | None = None
    ou: str | None = None
    owner: str | None = None
    ticket: str | None = None
    notes: str | None = None

    def permit_active(self, today: datetime.date) -> bool:
        """True when the account is permitted and its permit has not ended before ``today``."""
        return self.bedrock_cross_region_inference and (
            self.expires is None or self.expires >= today
        )


@dataclass(frozen=True)
class Registry:
    """A validated registry: the accounts in file order."""

    path: Path
    accounts: tuple[Account, ...]

    def permitted_ids(self, today: datetime.date) -> tuple[str, ...]:
        """Ids of the accounts whose permit holds on ``today``: sorted, unique."""
        return tuple(sorted({a.id for a in self.accounts if a.permit_active(today)}))

    def expired(self, today: datetime.date) -> tuple[Account, ...]:
        """Permitted accounts whose permit ended before ``today`` (left out of the tfvars)."""
        return tuple(
            a
            for a in self.accounts
            if a.bedrock_cross_region_inference and a.expires is not None and a.expires < today
        )

    def expiring(
        self, today: datetime.date, within_days: int = EXPIRY_WARNING_DAYS
    ) -> tuple[Account, ...]:
        """Permitted accounts whose permit ends within ``within_days`` days of ``today``."""
        window = datetime.timedelta(days=within_days)
        last = today + window if today <= datetime.date.max - window else datetime.date.max
        return tuple(
            a
            for a in self.accounts
            if a.bedrock_cross_region_inference
            and a.expires is not None
            and today <= a.expires <= last
        )

    def by_id(self) -> dict[str, Account]:
        return {a.id: a for a in self.accounts}


# ---------------------------------------------------------------- YAML

# The registry's reader (see regionguard.yamlfile): numbers as written.
RegistryLoader = NumbersAsWrittenLoader


# ---------------------------------------------------------------- schema


def registry_schema() -> dict[str, Any]:
    """The registry's JSON Schema, shipped as package data."""
    return load_schema(SCHEMA)


# ---------------------------------------------------------------- loading


def load_registry(path: Path) -> Registry:
    """Read and validate a registry file; raise InputError naming every problem."""
    text = read_text(
        path,
        missing="no such registry; create it with `accounts:` and one entry per account "
        "(`accounts: []` permits no account)",
        kind=REGISTRY,
    )
    return parse_registry(text, path)


def parse_registry(text: str, path: Path) -> Registry:
    """Validate registry text read from ``path`` (used in messages).

    Cached on the text and the path: a command reads the registry more than
    once (the environment, its plan's view, the sandbox's seed), and at 5,000
    accounts each parse costs about a second. The result is immutable; a
    registry that fails raises again each time.
    """
    return _parse_registry(text, path)


@functools.lru_cache(maxsize=8)
def _parse_registry(text: str, path: Path) -> Registry:
    data = parse_yaml(text, path, RegistryLoader)
    if data is None:
        raise InputError(
            f"{path}: the registry is empty; it must hold `accounts:` with one entry per "
            "account (`accounts: []` permits no account)"
        )
    problems = list(_problems(data))
    if problems:
        raise InputError(_report(path, problems))
    return Registry(path=path, accounts=tuple(_account(entry) for entry in data["accounts"]))


def _account(entry: Mapping[str, Any]) -> Account:
    expires = entry.get("expires")
    return Account(
        id=entry["id"],
        name=entry["name"],
        bedrock_cross_region_inference=entry["bedrock_cross_region_inference"],
        expires=datetime.date.fromisoformat(expires) if expires is not None else None,
        ou=entry.get("ou"),
        owner=entry.get("owner"),
        ticket=entry.get("ticket"),
        notes=entry.get("notes"),
    )


def _report(path: Path, problems: Sequence[str]) -> str:
    shown = [f"{path}: {p}" for p in problems[:_MAX_REPORTED]]
    if len(problems) > _MAX_REPORTED:
        shown.append(f"{path}: ... and {count(len(problems) - _MAX_REPORTED, 'more problem')}")
    return "\n".join(shown)


def _problems(data: Any) -> Iterator[str]:
    try:
        fast_check(SCHEMA)(data)
    except fastjsonschema.JsonSchemaException:
        pass
    else:
        yield from _duplicates(data["accounts"])
        yield from _name_problems(data["accounts"])
        return
    errors = sorted(validator(SCHEMA).iter_errors(data), key=lambda e: _path_key(e.absolute_path))
    reported: set[str] = set()
    for error in errors:
        message = _describe(error, data)
        if message not in reported:  # e.g. a bad date breaks both pattern and format
            reported.add(message)
            yield message
    if not errors:  # pragma: no cover - both validators read the same schema
        yield from _duplicates(data["accounts"])
        yield from _name_problems(data["accounts"])


def _path_key(path: Iterable[Any]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def _entry_label(data: Any, index: int) -> str:
    label = f"accounts[{index}]"
    entry = data["accounts"][index]
    if isinstance(entry, dict):
        name = entry.get("name")
        if isinstance(name, str) and name.strip():
            label += f" ({shorten(name)})"
    return label


_TYPE_WORDS = {
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys to values",
}


def _describe(error: jsonschema.ValidationError, data: Any) -> str:
    path = list(error.absolute_path)
    if not path:
        return _describe_top(error, data)
    if path == ["accounts"]:
        return (
            "`accounts` must be a list of entries, each starting with `- id:` "
            "(`accounts: []` permits no account)"
        )
    label = _entry_label(data, int(path[1]))
    if len(path) == 2:
        return f"{label}: {_describe_entry(error)}"
    field = str(path[2])
    return f"{label}: {_describe_field(field, error)}"


def _describe_top(error: jsonschema.ValidationError, data: Any) -> str:
    if error.validator == "type":
        return (
            "the registry must be a mapping with an `accounts:` list, "
            f"not {type(data).__name__}; start the file with `accounts:`"
        )
    if error.validator == "required":
        return (
            "has no `accounts:` list; add `accounts:` with one entry per account "
            "(`accounts: []` permits no account)"
        )
    if error.validator == "additionalProperties":
        unknown = ", ".join(show(k) for k in data if k != "accounts")
        return f"unknown top-level key {unknown}; the registry holds only `accounts:`"
    return error.message  # pragma: no cover - the schema has no other top-level rule


def _describe_entry(error: jsonschema.ValidationError) -> str:
    entry: Any = error.instance
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    properties = sorted(schema.get("properties", {}))
    if error.validator == "type":
        return (
            f'is {show(entry)}, not an entry; write `- id: "<12 digits>"` '
            "followed by name and bedrock_cross_region_inference"
        )
    if error.validator == "required":
        required: list[str] = list(schema.get("required", []))
        missing = [k for k in required if k not in entry]
        fixes = {
            "id": 'id: "<12 digits>"',
            "name": "name: <account name>",
            "bedrock_cross_region_inference": "bedrock_cross_region_inference: true or false",
        }
        return "missing " + ", ".join(f"{k} (add {fixes.get(k, k)})" for k in missing)
    if error.validator == "additionalProperties":
        parts = []
        for key in entry:
            if key in properties:
                continue
            close = difflib.get_close_matches(str(key), properties, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else ""
            parts.append(f"unknown key {show(str(key))}" + (f"; {hint}" if hint else ""))
        allowed = ", ".join(properties)
        return "; ".join(parts) + f" (known keys: {allowed})"
    return error.message  # pragma: no cover - the schema has no other entry rule


def _describe_field(field: str, error: jsonschema.ValidationError) -> str:
    value = error.instance
    if field == "id":
        return _describe_id(value)
    if error.validator == "type":
        wanted = str(error.validator_value)
        expected = _TYPE_WORDS.get(wanted, wanted)
        if expected == "a string" and isinstance(value, YamlNumber | bool):
            return f"{field} {show(value)} must be a string; write it in quotes"
        if field == "bedrock_cross_region_inference":
            return f"{field} is {show(value)}; write true or false"
        return f"{field} is {show(value)}; it must be {expected}"
    if field == "expires":
        return (
            f"expires {show(value)} is not a date; write the last day of the permit as YYYY-MM-DD"
        )
    if field == "ou":
        return (
            f"ou {show(value)} is not an OU path; write OU names from the root down, "
            "separated by '/', such as Workloads/ML"
        )
    if field == "name":
        return f"name {show(value)} is empty or has spaces around it; write the account name"
    return f"{field}: {error.message}"  # pragma: no cover - every field is handled above


def _describe_id(value: Any) -> str:
    if isinstance(value, YamlNumber):
        return (
            f"id {show(value)} is written as a YAML number, which loses leading zeros "
            "(and reads 0-prefixed digits as octal); write it in quotes: "
            f'id: "{shorten(value.text)}"'
        )
    if not isinstance(value, str):
        return (
            f"id {show(value)} is not an account id; "
            'write the 12 digits in quotes: id: "<12 digits>"'
        )
    if value != value.strip():
        return f"id {show(value)} has spaces or line breaks around it; remove them"
    if any(ch.isspace() for ch in value):
        return f"id {show(value)} contains spaces; write the 12 digits without spaces"
    if not _DIGITS.fullmatch(value):
        return (
            f"id {show(value)} contains characters other than digits; "
            "an AWS account id is 12 digits"
        )
    return f"id {show(value)} is {len(value)} digits; an AWS account id has 12"


def _duplicates(entries: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """Ids and names used by more than one entry: each one must name one account."""
    first_id: dict[str, int] = {}
    first_name: dict[str, int] = {}
    for index, entry in enumerate(entries):
        label = f"accounts[{index}] ({shorten(entry['name'])})"
        account_id, name = entry["id"], entry["name"]
        if account_id in first_id:
            other = first_id[account_id]
            yield (
                f"{label}: id {show(account_id)} is already used by accounts[{other}] "
                f"({shorten(entries[other]['name'])}); keep one entry per account"
            )
        else:
            first_id[account_id] = index
        if name in first_name:
            other = first_name[name]
            yield (
                f"{label}: name {show(name)} is already used by accounts[{other}] "
                f"({entries[other]['id']}); give each account its own name, as explain, "
                "matrix and verify look accounts up by name"
            )
        else:
            first_name[name] = index
    # A name that is another entry's id: explain, matrix and verify take an
    # id first, so that entry could never be named.
    for index, entry in enumerate(entries):
        named = first_id.get(entry["name"])
        if named is not None and named != index:
            yield (
                f"accounts[{index}] ({shorten(entry['name'])}): name {show(entry['name'])} is "
                f"the id of accounts[{named}] ({shorten(entries[named]['name'])}); an account "
                "is looked up by id or name, so give it a name that is no account id"
            )


def _name_problems(entries: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """Names a reviewer could misread: invisible or mixed-script characters, look-alikes.

    Account names are compared with each other, OU names (the segments of
    ``ou``) with each other (:mod:`regionguard.names`).
    """
    names = [str(entry["name"]) for entry in entries]
    for index, name in enumerate(names):
        for problem in name_problems(name):
            yield f"accounts[{index}].name {name!r} {problem}"
    for pair in lookalikes(names):
        yield (
            f"accounts[{pair.later}].name {names[pair.later]!r} looks like "
            f"accounts[{pair.first}].name {names[pair.first]!r} ({pair.difference}); "
            "give each account a name that reads differently"
        )
    segments: list[str] = []
    where: dict[str, int] = {}
    for index, entry in enumerate(entries):
        ou = entry.get("ou")
        for segment in str(ou).split("/") if isinstance(ou, str) else ():
            if segment not in where:
                where[segment] = index
                segments.append(segment)
                for problem in name_problems(segment):
                    yield f"accounts[{index}].ou {ou!r}: OU name {segment!r} {problem}"
    for pair in lookalikes(segments):
        first, later = segments[pair.first], segments[pair.later]
        yield (
            f"accounts[{where[later]}].ou OU name {later!r} looks like "
            f"accounts[{where[first]}].ou OU name {first!r} ({pair.difference}); "
            "write each OU's name exactly as AWS Organizations has it"
        )
