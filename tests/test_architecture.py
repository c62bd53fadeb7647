"""The shape of the code: layers, no import cycles, packages used through their public face.

The layers are declared once, in ``pyproject.toml`` (``[tool.importlinter]``,
checked by ``lint-imports`` in ``make lint``); this test reads the same
declaration and checks it with grimp, the import graph import-linter is built
on, together with two rules import-linter does not express.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import grimp
import pytest

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("gutaxis", exclude_type_checking_imports=True)


def _layers() -> list[set[str]]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    return [{m.strip() for m in layer.split("|")} for layer in contract["layers"]]


def _top(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_module_is_in_a_layer(graph):
    placed = set().union(*_layers())
    tops = {_top(m) for m in graph.modules if m != "gutaxis"}
    assert tops <= placed, f"modules in no layer of pyproject.toml: {sorted(tops - placed)}"


def test_no_layer_imports_from_a_layer_above_it(graph):
    layers = _layers()
    rank = {m: i for i, layer in enumerate(layers) for m in layer}  # 0 is the top
    upward = []
    for module in graph.modules:
        if module == "gutaxis":
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = _top(module), _top(imported)
            if imported != "gutaxis" and a != b and rank[b] < rank[a]:
                upward.append(f"{module} -> {imported}")
            elif a != b and rank[a] == rank[b]:
                upward.append(f"{module} -> {imported} (same layer: must be independent)")
    assert not upward, "\n".join(upward)


def test_there_are_no_import_cycles(graph):
    """Tarjan's strongly connected components of the module graph: every one is a single module."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert not cycles, cycles


def test_packages_are_used_through_their_public_face(graph):
    """No module imports a private module (``_name``) of another package."""
    private = []
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            parts = imported.split(".")
            owner = ".".join(parts[:-1])
            if parts[-1].startswith("_") and parts[-1] != "__init__" \
                    and not module.startswith(owner + ".") and module != owner \
                    and imported != "gutaxis._version":
                private.append(f"{module} -> {imported}")
    assert not private, "\n".join(sorted(private))
