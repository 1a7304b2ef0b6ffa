"""Import hygiene of the DSL package: lazy ``sglike``, no import circles, small files."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sglike

PACKAGE_DIR = Path(sglike.__file__).parent
NON_DSL = ("runtime", "grammar", "kernels")  # subpackages mapped from other folders


def _fresh(code: str) -> object:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


LOADED = ("import json, sys; print(json.dumps(sorted(k for k in sys.modules if k.startswith('sglike.') "
          f"and k.split('.')[1] not in {NON_DSL!r})))")


@pytest.mark.parametrize("package", ["sglike.grammar", "sglike.runtime"])
def test_subpackage_import_loads_no_dsl_module(package):
    assert _fresh(f"import {package}; {LOADED}") == []


def test_lazy_names_work_without_torch():
    code = ("import json, sys, sglike as sgl; from sglike import gen, program, ProgramState, Runtime; "
            "ok = sgl.gen is gen and callable(sgl.select) and sgl.primitives.gen is gen; "
            "print(json.dumps([ok, 'torch' in sys.modules, sorted(set(sgl.__all__) - set(dir(sgl)))]))")
    assert _fresh(code) == [True, False, []]


def test_star_import_matches_all():
    namespace: dict = {}
    exec("from sglike import *", namespace)
    assert set(sglike.__all__) <= set(namespace)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Absolute names of the sglike modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [target] + [f"{target}.{a.name}" for a in node.names]  # `from pkg import submodule`


def _import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE_DIR.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):  # top level and inside functions
            for name in _imported(node, module, is_package):
                parts = name.split(".")
                for k in range(2, len(parts) + 1):  # a module and the packages above it
                    dep = ".".join(parts[:k])
                    if dep in files and dep != module and not module.startswith(dep + "."):
                        deps.add(dep)
        graph[module] = deps
    return graph


def test_no_import_cycles_in_dsl():
    graph = _import_graph()
    assert {"sglike.state", "sglike.interpreter", "sglike.program", "sglike.tracer"} <= set(graph)
    assert "sglike.state" not in graph["sglike.interpreter"]
    assert "sglike.program" not in graph["sglike.tracer"]
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            pytest.fail("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        for dep in sorted(graph[module]):
            visit(dep, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_files_stay_small():
    tests_dir = Path(__file__).parent
    long = {str(p): n for p in [*PACKAGE_DIR.rglob("*.py"), *tests_dir.glob("*.py")]
            if (n := len(p.read_text().splitlines())) > 300}
    assert long == {}
