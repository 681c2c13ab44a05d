"""The generated part of each module's README: requirements, resources, inputs and outputs.

    python tools/module_docs.py              rewrite modules/*/README.md (make docs)
    python tools/module_docs.py --check      exit 1 naming each README that is not current
    python tools/module_docs.py DIR ...      those module folders only

The tables are read from the module's .tf files with python-hcl2 and written
between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` (the markers
terraform-docs uses), so the prose around them stays as people wrote it:

- Requirements: ``required_version`` and each provider of ``versions.tf``;
- Resources: every ``resource`` and ``data`` block, by address;
- Inputs: every variable, required ones first, with its description, type and
  default as declared (defaults written as HCL literals);
- Outputs: every output with its description.

A variable or output without a description, or a README without the markers,
is an input error (exit 2); nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hcl2

from regionguard.atomic import write_atomic
from regionguard.markdown import md_line
from regionguard.words import count

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
HCL = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class DocsError(Exception):
    """A module the tables cannot be written for; the message names the file and the fix."""


def _parse(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            parsed: dict[str, Any] = hcl2.load(handle, serialization_options=HCL)
    except Exception as exc:  # python-hcl2 raises lark's exceptions
        raise DocsError(f"{_shown(path)}: not valid HCL ({exc})") from None
    return parsed


def _blocks(module: Path, kind: str) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Blocks of ``kind`` (variable, output) in the module's .tf files, by name."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(module.glob("*.tf")):
        for block in _parse(path).get(kind, []):
            for name, body in block.items():
                found[name] = (path, body)
    return found


def _expression(value: Any) -> str:
    """A type expression as written: python-hcl2 wraps it in ``${...}``."""
    text = str(value)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


def hcl_literal(value: Any) -> str:
    """A default value as the HCL literal that declares it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(hcl_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (
            f"{k if IDENTIFIER.match(k) else json.dumps(k)} = {hcl_literal(v)}"
            for k, v in value.items()
        )
        return "{ " + ", ".join(items) + " }"
    raise TypeError(f"no HCL literal for {value!r}")


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def _description(path: Path, kind: str, name: str, body: dict[str, Any]) -> str:
    text = body.get("description")
    if not isinstance(text, str) or not text.strip():
        raise DocsError(
            f"{_shown(path)}: {kind} {name!r} has no description; add one sentence that says "
            "what it is (the README's table is made from it)"
        )
    return md_line(text)


def _requirements(module: Path) -> list[str]:
    rows = ["## Requirements", "", "| name | version |", "|---|---|"]
    for path in sorted(module.glob("*.tf")):
        for block in _parse(path).get("terraform", []):
            if "required_version" in block:
                rows.append(f"| terraform | {_code(str(block['required_version']))} |")
            for providers in block.get("required_providers", []):
                for name, spec in providers.items():
                    source = spec.get("source", f"hashicorp/{name}")
                    version = spec.get("version", "any")
                    rows.append(f"| {name} ({_code(source)}) | {_code(str(version))} |")
    return rows


def _resources(module: Path) -> list[str]:
    found: list[tuple[str, str]] = []
    for path in sorted(module.glob("*.tf")):
        parsed = _parse(path)
        for kind, prefix, label in (("resource", "", "resource"), ("data", "data.", "data source")):
            for block in parsed.get(kind, []):
                for type_name, named in block.items():
                    found += [(f"{prefix}{type_name}.{name}", label) for name in named]
    rows = ["## Resources", "", "| name | type |", "|---|---|"]
    rows += [f"| {_code(address)} | {label} |" for address, label in sorted(found)]
    return rows


def _inputs(module: Path) -> list[str]:
    variables = _blocks(module, "variable")
    rows = [
        "## Inputs",
        "",
        "| name | description | type | default | required |",
        "|---|---|---|---|---|",
    ]
    order = sorted(variables, key=lambda n: ("default" in variables[n][1], n))
    for name in order:
        path, body = variables[name]
        description = _description(path, "variable", name, body)
        type_text = _code(_expression(body["type"])) if "type" in body else "any"
        if "default" in body:
            default, required = _code(hcl_literal(body["default"])), "no"
        else:
            default, required = "", "yes"
        rows.append(f"| {_code(name)} | {description} | {type_text} | {default} | {required} |")
    return rows


def _outputs(module: Path) -> list[str]:
    outputs = _blocks(module, "output")
    rows = ["## Outputs", "", "| name | description |", "|---|---|"]
    for name in sorted(outputs):
        path, body = outputs[name]
        rows.append(f"| {_code(name)} | {_description(path, 'output', name, body)} |")
    return rows


def render(module: Path) -> str:
    """The text between the markers, markers included."""
    sections = [_requirements(module), _resources(module), _inputs(module), _outputs(module)]
    body = "\n\n".join("\n".join(rows) for rows in sections)
    return f"{BEGIN}\n{body}\n{END}"


def _shown(path: Path) -> Path:
    """A path relative to the working folder when it lies below it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def updated(module: Path) -> tuple[Path, str, str]:
    """The README, its text now, and its text with the generated part current."""
    readme = _shown(module / "README.md")
    if not readme.is_file():
        raise DocsError(f"{readme}: no README; write one with the lines {BEGIN} and {END}")
    text = readme.read_text(encoding="utf-8")
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise DocsError(
            f"{readme}: needs the line {BEGIN} and, below it, the line {END} once each; "
            "the tables are written between them"
        )
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    return readme, text, text[:start] + render(module) + text[stop:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", type=Path, help="module folders (default: modules/*)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when stale")
    args = parser.parse_args(argv)
    modules = args.modules or sorted(p.parent for p in (ROOT / "modules").glob("*/versions.tf"))
    try:
        results = [updated(module) for module in modules]
    except DocsError as exc:
        print(f"module_docs: {exc}", file=sys.stderr)
        return 2
    stale = [(readme, new) for readme, old, new in results if old != new]
    if args.check:
        for readme, _new in stale:
            print(
                f"module_docs: {readme}: the tables are not those of the module's .tf files; "
                "run `make docs` and commit the README",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for readme, new in stale:
        write_atomic(readme, new)
        print(f"{readme}: updated")
    if not stale:
        print(f"{count(len(results), 'module README')} up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
