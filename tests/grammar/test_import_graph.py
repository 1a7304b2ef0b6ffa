"""sglike.grammar's own import graph: no cycles (module-level, function-level and
TYPE_CHECKING imports all count, package ``__init__`` re-exports too), and nothing from the
runtime or the DSL."""
from __future__ import annotations

import ast
from pathlib import Path

import sglike.grammar

ROOT = Path(sglike.grammar.__file__).parent
PKG = "sglike.grammar"


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([PKG, *parts])] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of sglike (grammar or not) that `name` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("sglike")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("sglike"):
                continue
            for alias in node.names:  # `from pkg import submodule` is an edge to the submodule
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in modules else target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        color[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if m not in graph:
                continue
            if color.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in color:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        color[n] = 2
        return None

    for n in sorted(graph):
        if n not in color:
            found = visit(n)
            if found:
                return found
    return None


def test_graph_sees_the_subpackages():
    graph = _graph()
    assert "sglike.grammar.compiler" in graph["sglike.grammar"]
    assert any(m.startswith("sglike.grammar.cfg.") for m in graph["sglike.grammar.cfg"])


def test_no_import_cycles():
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_grammar_imports_only_itself():
    outside = {(n, m) for n, ms in _graph().items() for m in ms if not m.startswith(PKG)}
    assert not outside, sorted(outside)
