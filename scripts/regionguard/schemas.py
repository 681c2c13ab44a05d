"""The JSON Schemas shipped as package data, and their validators: read and compiled once.

Each file's ``$schema`` names its draft; :func:`validator` picks the matching
jsonschema class and checks the schema itself. :func:`fast_check` is the same
schema compiled by fastjsonschema, a quick yes for valid documents (it stops
at the first problem, so a refused document goes through :func:`validator`,
which lists every problem; docs/decisions.md has the numbers).
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable, Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

__all__ = ["fast_check", "json_path", "load_schema", "validator"]


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """``regionguard/data/<name>.schema.json`` as a JSON object."""
    text = resources.files("regionguard.data").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def is_real_date(value: str) -> bool:
    """The ``date`` format: a real calendar day written YYYY-MM-DD."""
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@functools.cache
def validator(name: str) -> jsonschema.protocols.Validator:
    """jsonschema's validator of the named schema: it lists every problem with its path."""
    # Loaded here: jsonschema takes about 0.15 s to import, and most commands never validate.
    import jsonschema

    formats = jsonschema.FormatChecker(formats=())
    formats.checks("date")(lambda v: not isinstance(v, str) or is_real_date(v))
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    checker: jsonschema.protocols.Validator = cls(schema, format_checker=formats)
    return checker


@functools.cache
def fast_check(name: str) -> Callable[[Any], Any]:
    """The named schema compiled by fastjsonschema; raises JsonSchemaException at a problem."""
    # Loaded here, as jsonschema above: only the commands that check a file need it.
    import fastjsonschema

    check: Callable[[Any], Any] = fastjsonschema.compile(
        load_schema(name), formats={"date": is_real_date}
    )
    return check


def json_path(path: Iterable[Any]) -> str:
    """A validation error's path as written in messages: ``accounts[3].id``; "" at the top."""
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return text.lstrip(".")
