"""No import cycle anywhere in src/cpeval.

Every import between cpeval modules counts, at module level and inside functions (a function-level import is
still a dependency: it only moves the moment the cycle bites). Imports under ``if TYPE_CHECKING:`` are left
out: they never run. ``from cpeval.a import b`` depends on ``cpeval.a.b`` when ``b`` is a module and on
``cpeval.a`` otherwise. A package's own ``__init__`` importing its submodules is an edge like any other; the
implicit import of a parent package (every import of ``cpeval.a.b`` runs ``cpeval/a/__init__``) is not, or
every package with a lazy facade would be a cycle with its own members.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from _support import ROOT

SRC = ROOT / "src"
PACKAGE = "cpeval"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks (their ``else`` still runs)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The cpeval modules that ``path`` imports (absolute or relative, any depth in the file)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in _nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` depends on the submodule; `from mod import name` on the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in targets:
            while name and name not in modules:  # `import cpeval.a.b` of a module; names inside a module
                name = name.rpartition(".")[0]
            if name and name != me:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = list((SRC / PACKAGE).rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _edges_within(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    members = set(component)
    return [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]


def test_no_import_cycle_in_cpeval():
    graph = import_graph()
    assert len(graph) > 100 and "cpeval.report.markdown" in graph  # the walk found the package
    found = cycles(graph)
    assert not found, "\n\n".join("cycle: " + ", ".join(c) + "\n  " + "\n  ".join(_edges_within(graph, c))
                                  for c in found)


def test_the_walk_sees_function_level_imports_and_skips_type_checking(tmp_path, monkeypatch):
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from cpeval.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cpeval.a\n"
                                      "else:\n    from .. import c\n")
    (pkg / "c.py").write_text("import cpeval.a\n")
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    graph = import_graph()
    assert graph["cpeval.a"] == {"cpeval.sub.b"}
    assert graph["cpeval.sub.b"] == {"cpeval.c"}
    assert cycles(graph) == [["cpeval.a", "cpeval.c", "cpeval.sub.b"]]


@pytest.mark.parametrize("graph,expected", [
    ({"x": {"y"}, "y": set()}, []),
    ({"x": {"y"}, "y": {"x"}, "z": {"x"}}, [["x", "y"]]),
])
def test_cycle_finder(graph, expected):
    assert cycles(graph) == expected
