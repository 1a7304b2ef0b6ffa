"""Static import graph of the house packages, read with ``ast``: module-level,
function-level and ``if TYPE_CHECKING:`` imports all count (a type-only circle is still a
circle in the design)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = {"sglike": "sglike", "sglike.runtime": "runtime", "sglike.grammar": "grammar", "sglike.kernels": "kernels"}


def house_modules() -> dict[str, Path]:
    """Every house module name -> its file (``pkg`` for ``pkg/__init__.py``)."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _import_nodes(tree: ast.AST):
    return (node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)))


def imported_names(module: str, path: Path, modules: dict[str, Path] | None = None) -> set[str]:
    """Absolute names a module imports: ``a.b`` for ``import a.b``; for ``from a import x``,
    ``a.x``, and ``a`` too unless every ``x`` is a submodule of ``a`` in ``modules``."""
    is_pkg = path.name == "__init__.py"
    names: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_pkg else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        subs = {f"{base}.{alias.name}" for alias in node.names}
        names.update(subs)
        if modules is None or not subs <= set(modules):
            names.add(base)
    return names


def house_graph() -> dict[str, set[str]]:
    """module -> the house modules it imports (a name that is not a module is dropped)."""
    modules = house_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        graph[module] = {n for n in imported_names(module, path, modules) if n in modules and n != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
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
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found
