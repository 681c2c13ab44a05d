"""The accounts registry (envs/<env>/accounts.yaml): loading, validation, permits.

The registry is the file people edit in pull requests, so every mistake in it
is reported here, in the user's terms, before anything reaches Terraform:

- the YAML is read with a loader that keeps what a reader sees: a value
  written as a YAML number (``id: 012345678901``) stays a number, even when
  YAML 1.1 would read it as a string or an octal integer, and is refused for
  an id; dates stay text; only ``true``/``false`` are booleans (``yes`` is a
  word, not a permit); a key written twice in one mapping is an error;
- the structure is checked against the JSON Schema shipped in
  ``regionguard/data/accounts.schema.json`` (unknown keys are refused, so a
  typo such as ``bedrock_cross_region_inferance`` cannot mean "not
  permitted");
- ids are unique.

Every problem found is reported at once as an :class:`InputError` (exit 2)
whose lines name the file, the entry (index and name), the field and the fix.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import fastjsonschema
import yaml

from regionguard.errors import InputError

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
# Permits that end within this many days are announced.
EXPIRY_WARNING_DAYS = 30
# At most this many problems are listed; the rest are counted.
_MAX_REPORTED = 25

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
        last = today + datetime.timedelta(days=within_days)
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


@dataclass(frozen=True)
class YamlNumber:
    """A plain (unquoted) scalar that YAML would read as a number; keeps its text."""

    text: str

    def __str__(self) -> str:
        return self.text


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_DIGITS = re.compile(r"[0-9]+")


class RegistryLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader that keeps numbers-as-written, dates as text and refuses duplicate keys."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, Any]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if len(set(keys)) == len(keys):
            return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                raise _DuplicateKey(
                    "while reading a mapping",
                    node.start_mark,
                    f"key {key!r} is written twice; keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _construct_number(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> YamlNumber:
    return YamlNumber(str(node.value))


def _construct_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str | YamlNumber:
    value = str(node.value)
    # YAML 1.1 reads 012345678901 as a string and 012345670123 as an octal
    # integer; YAML 1.2 tools read both as integers. Unquoted digits are a
    # number to the reader either way.
    # (The C parser reports the plain style as "", the Python one as None.)
    if not node.style and _DIGITS.fullmatch(value):
        return YamlNumber(value)
    return value


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool | str:
    value = str(node.value)
    if value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    return value  # yes/no/on/off: YAML 1.1 booleans, words to everyone else


RegistryLoader.add_constructor("tag:yaml.org,2002:int", _construct_number)
RegistryLoader.add_constructor("tag:yaml.org,2002:float", _construct_number)
RegistryLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)
RegistryLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


# ---------------------------------------------------------------- schema


@functools.cache
def registry_schema() -> dict[str, Any]:
    """The registry's JSON Schema, shipped as package data."""
    text = resources.files("regionguard.data").joinpath("accounts.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _fast_check() -> Callable[[Any], Any]:
    """The schema compiled to Python by fastjsonschema: a quick yes for valid registries.

    It stops at the first problem, so a registry it refuses goes through
    jsonschema (:func:`_validator`), which lists every problem.
    """
    check: Callable[[Any], Any] = fastjsonschema.compile(
        registry_schema(), formats={"date": _is_real_date}
    )
    return check


def _is_real_date(value: str) -> bool:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    """jsonschema's validator: slower, but it lists every problem with its path."""
    import jsonschema

    formats = jsonschema.FormatChecker(formats=())
    formats.checks("date")(lambda v: not isinstance(v, str) or _is_real_date(v))
    schema = registry_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema, format_checker=formats)
    return validator


# ---------------------------------------------------------------- loading


def load_registry(path: Path) -> Registry:
    """Read and validate a registry file; raise InputError naming every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such registry; create it with `accounts:` and one entry per account "
            "(`accounts: []` permits no account)"
        ) from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a registry file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    return parse_registry(text, path)


def parse_registry(text: str, path: Path) -> Registry:
    """Validate registry text read from ``path`` (used in messages)."""
    try:
        data = yaml.load(text, Loader=RegistryLoader)  # a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        if isinstance(exc, _DuplicateKey):
            raise InputError(f"{path}: {where}{exc.problem}") from None
        problem = exc.problem or str(exc)
        raise InputError(f"{path}: not valid YAML: {where}{problem}; fix the syntax") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}; fix the syntax") from None
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
        shown.append(f"{path}: ... and {len(problems) - _MAX_REPORTED} more problems")
    return "\n".join(shown)


def _problems(data: Any) -> Iterator[str]:
    try:
        _fast_check()(data)
    except fastjsonschema.JsonSchemaException:
        pass
    else:
        yield from _duplicate_ids(data["accounts"])
        return
    errors = sorted(_validator().iter_errors(data), key=lambda e: _path_key(e.absolute_path))
    reported: set[str] = set()
    for error in errors:
        message = _describe(error, data)
        if message not in reported:  # e.g. a bad date breaks both pattern and format
            reported.add(message)
            yield message
    if not errors:  # pragma: no cover - both validators read the same schema
        yield from _duplicate_ids(data["accounts"])


def _path_key(path: Iterable[Any]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def _entry_label(data: Any, index: int) -> str:
    label = f"accounts[{index}]"
    entry = data["accounts"][index]
    if isinstance(entry, dict):
        name = entry.get("name")
        if isinstance(name, str) and name.strip():
            label += f" ({name})"
    return label


def _show(value: Any) -> str:
    if isinstance(value, YamlNumber):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


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
        unknown = ", ".join(repr(k) for k in data if k != "accounts")
        return f"unknown top-level key {unknown}; the registry holds only `accounts:`"
    return error.message  # pragma: no cover - the schema has no other top-level rule


def _describe_entry(error: jsonschema.ValidationError) -> str:
    entry: Any = error.instance
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    properties = sorted(schema.get("properties", {}))
    if error.validator == "type":
        return (
            f'is {_show(entry)}, not an entry; write `- id: "<12 digits>"` '
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
            parts.append(f"unknown key {str(key)!r}" + (f"; {hint}" if hint else ""))
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
            return f"{field} {_show(value)} must be a string; write it in quotes"
        if field == "bedrock_cross_region_inference":
            return f"{field} is {_show(value)}; write true or false"
        return f"{field} is {_show(value)}; it must be {expected}"
    if field == "expires":
        return (
            f"expires {_show(value)} is not a date; write the last day of the permit as YYYY-MM-DD"
        )
    if field == "ou":
        return (
            f"ou {_show(value)} is not an OU path; write OU names from the root down, "
            "separated by '/', such as Workloads/ML"
        )
    if field == "name":
        return f"name {_show(value)} is empty or has spaces around it; write the account name"
    return f"{field}: {error.message}"  # pragma: no cover - every field is handled above


def _describe_id(value: Any) -> str:
    if isinstance(value, YamlNumber):
        return (
            f"id {value.text} is written as a YAML number, which loses leading zeros "
            f'(and reads 0-prefixed digits as octal); write it in quotes: id: "{value.text}"'
        )
    if not isinstance(value, str):
        return (
            f"id {_show(value)} is not an account id; "
            'write the 12 digits in quotes: id: "<12 digits>"'
        )
    if value != value.strip():
        return f"id {value!r} has spaces or line breaks around it; remove them"
    if any(ch.isspace() for ch in value):
        return f"id {value!r} contains spaces; write the 12 digits without spaces"
    if not _DIGITS.fullmatch(value):
        return f"id {value!r} contains characters other than digits; an AWS account id is 12 digits"
    return f"id {value!r} is {len(value)} digits; an AWS account id has 12"


def _duplicate_ids(entries: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        account_id = entry["id"]
        if account_id in first:
            label = f"accounts[{index}] ({entry['name']})"
            other = entries[first[account_id]]
            yield (
                f"{label}: id {account_id!r} is already used by accounts[{first[account_id]}] "
                f"({other['name']}); keep one entry per account"
            )
        else:
            first[account_id] = index
