"""The one YAML reader of the package: strict, bounded, and read as a reviewer reads it.

Every YAML file regionguard reads (the accounts registry, ``expectations.yaml``
and ``sandbox.yaml``) goes through :func:`read_yaml`. The rules:

- the file is read by :mod:`regionguard.inputfile`: a regular file inside
  the repository, within a size bound, of UTF-8 text (a folder, a pipe, a
  device, a link out of the repository, an unreadable file or bytes that are
  not UTF-8 are an :class:`InputError`, exit 2);
- no anchors (``&name``), aliases (``*name``) or merge keys (``<<``): they are
  refused while the document is composed, before any value is built, so an
  "alias bomb" costs no more than reading its bytes; and what one entry
  says is written in that entry, where a reviewer reads it;
- no explicit tags (``!!str``, ``!!python/object``): quote a value instead;
- a key written twice in one mapping is an error (YAML forbids it; PyYAML
  would keep the last value);
- dates stay text, and only ``true``/``false`` are booleans (``yes``/``no``/
  ``on``/``off`` are words, as in YAML 1.2);
- nesting is bounded: libyaml refuses more than 1,000 levels, and the
  Python composer (used when the text holds ``&``, ``*`` or ``!``, see
  :func:`_composer_for`) more than :data:`MAX_DEPTH`; either is an input
  error, never a crash;
- with :class:`NumbersAsWrittenLoader` (the registry's), a value written as a
  number keeps its text (:class:`YamlNumber`), so that ``id: 012345678901``
  is reported as written instead of as YAML 1.1 reads it.

Error messages name the file, the line and the column, and show at most
:data:`SHOWN_CHARS` characters of any value (:func:`show`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from regionguard import inputfile
from regionguard.errors import InputError
from regionguard.inputfile import Kind

if TYPE_CHECKING:
    import jsonschema

__all__ = [
    "MAX_DEPTH",
    "SHOWN_CHARS",
    "NumbersAsWrittenLoader",
    "StrictLoader",
    "YamlNumber",
    "parse_yaml",
    "read_text",
    "read_yaml",
    "schema_message",
    "shorten",
    "show",
]

# Values shown in messages are cut to this many characters.
SHOWN_CHARS = 60
# Deepest nesting of mappings and lists the Python composer accepts (libyaml
# refuses more than 1,000 levels itself); the files nest 3 levels.
MAX_DEPTH = 100

_CBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_DIGITS = re.compile(r"[0-9]+")


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


@dataclass(frozen=True)
class YamlNumber:
    """A plain (unquoted) scalar that YAML would read as a number; keeps its text."""

    text: str

    def __str__(self) -> str:
        return self.text


def show(value: Any) -> str:
    """A value as the user wrote it, cut to :data:`SHOWN_CHARS` characters."""
    if isinstance(value, YamlNumber):
        return shorten(value.text)
    if isinstance(value, bool):
        return "true" if value else "false"
    return shorten(repr(value))


class StrictYamlError(yaml.MarkedYAMLError):
    """A document that is valid YAML but uses something these files refuse."""


def _refused(problem: str, mark: Any) -> StrictYamlError:
    return StrictYamlError(None, None, problem, mark)


class StrictLoader(Composer, _CBase):  # type: ignore[valid-type,misc]
    """libyaml's parser with Python composition that refuses what :mod:`yamlfile` lists.

    Composition is PyYAML's own, with the checks made on each event before
    a node is built; keys are checked as each mapping is constructed.
    """

    _c_composed: ClassVar[type[StrictLoader] | None] = None
    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, Any]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str | bytes) -> None:
        _CBase.__init__(self, stream)
        Composer.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.get_event()
            raise _refused(
                f"alias *{shorten(str(event.anchor))} refused: anchors and aliases are not "
                "used in these files; write the value out where it applies",
                event.start_mark,
            )
        event = self.peek_event()
        if isinstance(event, NodeEvent) and event.anchor is not None:
            raise _refused(
                f"anchor &{shorten(str(event.anchor))} refused: anchors and aliases are not "
                "used in these files; remove it",
                event.start_mark,
            )
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise _refused(
                f"explicit tag {shorten(str(tag))} refused; write the value plainly "
                '(quote it, "like this", to make it text)',
                event.start_mark,
            )
        if isinstance(event, CollectionStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _refused(
                    f"nested more than {MAX_DEPTH} levels deep; these files nest a few levels",
                    event.start_mark,
                )
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            return node
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                raise _refused(
                    "merge key << refused: every entry is written out in full, so that "
                    "what a reviewer reads is what the tool reads",
                    key_node.start_mark,
                )
            if isinstance(key_node, ScalarNode):
                if key_node.value in seen:
                    raise StrictYamlError(
                        "while reading a mapping",
                        node.start_mark,
                        f"key {shorten(repr(key_node.value))} is written twice; keep one",
                        key_node.start_mark,
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _construct_bool(loader: yaml.SafeLoader, node: ScalarNode) -> bool | str:
    value = str(node.value)
    if value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    return value  # yes/no/on/off: YAML 1.1 booleans, words to everyone else


StrictLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def _construct_float(loader: yaml.SafeLoader, node: ScalarNode) -> float:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        # .nan and .inf pass every minimum and maximum of a schema.
        raise _refused(
            f"{shorten(str(node.value))} refused: not a finite number; write a number",
            node.start_mark,
        )
    return float(value)


StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


class NumbersAsWrittenLoader(StrictLoader):
    """:class:`StrictLoader` that keeps a plain number as its text (:class:`YamlNumber`)."""


def _construct_number(loader: yaml.SafeLoader, node: ScalarNode) -> YamlNumber:
    return YamlNumber(str(node.value))


def _construct_str(loader: yaml.SafeLoader, node: ScalarNode) -> str | YamlNumber:
    value = str(node.value)
    # YAML 1.1 reads 012345678901 as a string and 012345670123 as an octal
    # integer; YAML 1.2 tools read both as integers. Unquoted digits are a
    # number to the reader either way.
    # (The C parser reports the plain style as "", the Python one as None.)
    if not node.style and _DIGITS.fullmatch(value):
        return YamlNumber(value)
    return value


NumbersAsWrittenLoader.add_constructor("tag:yaml.org,2002:int", _construct_number)
NumbersAsWrittenLoader.add_constructor("tag:yaml.org,2002:float", _construct_number)
NumbersAsWrittenLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)


def schema_message(error: jsonschema.ValidationError) -> str:
    """A JSON Schema error's message with the value in it cut short (see :func:`show`)."""
    text = str(error.message)
    written = repr(error.instance)
    if len(written) > SHOWN_CHARS and written in text:
        text = text.replace(written, show(error.instance))
    return shorten(text, 4 * SHOWN_CHARS)


# Anchors, aliases and tags are written with these characters and no others.
_NODE_PROPERTY_CHARS = ("&", "*", "!")


def _composer_for(text: str, loader: type[StrictLoader]) -> type[StrictLoader]:
    """``loader``, or its twin composing in C when ``text`` cannot hold an anchor, alias or tag.

    libyaml composes about a third faster than PyYAML's Python composer, but
    it resolves aliases without a word. Where none of ``&``, ``*`` and ``!``
    occurs in the text, nothing is refused at composition, so both give the
    same nodes; merge keys and duplicate keys are refused at construction,
    which both share.
    """
    if any(char in text for char in _NODE_PROPERTY_CHARS):
        return loader
    twin: type[StrictLoader] | None = loader.__dict__.get("_c_composed")
    if twin is None:
        twin = type(
            f"{loader.__name__}CComposed",
            (loader,),
            {"get_single_node": _CBase.get_single_node, "_c_composed": None},
        )
        loader._c_composed = twin
    return twin


def read_text(path: Path, *, missing: str, kind: str | Kind) -> str:
    """The UTF-8 text of ``path`` through the one input reader; InputError (exit 2) otherwise.

    ``missing`` is the message for a file that does not exist (what to
    create); ``kind`` names the file in other messages ("registry file") and
    bounds its size (:mod:`regionguard.inputfile`).
    """
    if isinstance(kind, str):
        kind = Kind(kind, inputfile.SMALL_FILE.limit)
    return inputfile.read_text(path, kind, missing=missing)


def parse_yaml(text: str, path: Path, loader: type[StrictLoader] = StrictLoader) -> Any:
    """The document in ``text`` (read from ``path``, named in messages); InputError otherwise."""
    try:
        return yaml.load(text, Loader=_composer_for(text, loader))  # a strict safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = str(exc.problem or exc.context or "unreadable")
        if exc.context and problem.startswith("but "):
            problem = f"{exc.context}, {problem}"
        problem = shorten(problem, 200)
        if isinstance(exc, StrictYamlError):
            raise InputError(f"{path}: {where}{problem}") from None
        raise InputError(f"{path}: not valid YAML: {where}{problem}; fix the syntax") from None
    except yaml.YAMLError as exc:
        problem = shorten(str(exc), 200)
        raise InputError(f"{path}: not valid YAML: {problem}; fix the syntax") from None


def read_yaml(
    path: Path, *, missing: str, kind: str | Kind, loader: type[StrictLoader] = StrictLoader
) -> Any:
    """Read and parse one YAML file with the rules above."""
    return parse_yaml(read_text(path, missing=missing, kind=kind), path, loader)
