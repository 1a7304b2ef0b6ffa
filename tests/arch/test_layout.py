"""The layout rules of DESIGN.md and docs/ARCHITECTURE.md, checked on the source tree:
no import circles, the dependency direction between the packages, files under 300 lines."""
from __future__ import annotations

import sys

import pytest

from import_graph import ROOT, cycles, house_graph, house_modules, imported_names

MAX_LINES = 300
LIBRARY_PACKAGES = ("sglike.runtime", "sglike.grammar", "sglike.kernels")


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _is_dsl(module: str) -> bool:
    return _in(module, "sglike") and not any(_in(module, p) for p in LIBRARY_PACKAGES)


def test_graph_sees_the_house():
    graph = house_graph()
    assert {"sglike", "sglike.runtime", "sglike.grammar", "sglike.kernels"} <= set(graph)
    assert sum(len(v) for v in graph.values()) > 100  # the reader does find the imports


def test_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    found = cycles(house_graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_dsl_circles_named_in_issue_11_stay_untangled():
    graph = house_graph()
    assert "sglike.state" not in graph["sglike.interpreter"]
    assert "sglike.program" not in graph["sglike.tracer"]


@pytest.mark.parametrize("package", LIBRARY_PACKAGES)
def test_library_packages_never_import_the_dsl(package):
    graph = house_graph()
    bad = {m: sorted(n for n in deps if _is_dsl(n)) for m, deps in graph.items() if _in(m, package)}
    assert not {m: d for m, d in bad.items() if d}


def test_grammar_never_imports_the_runtime():
    graph = house_graph()
    bad = {m: sorted(d) for m, deps in graph.items() if _in(m, "sglike.grammar")
           if (d := {n for n in deps if _in(n, "sglike.runtime") or _in(n, "sglike.kernels")})}
    assert not bad


def test_kernels_import_only_torch_triton_and_the_stdlib():
    allowed = set(sys.stdlib_module_names) | {"torch", "triton", "numpy"}
    bad = {}
    for module, path in house_modules().items():
        if not _in(module, "sglike.kernels"):
            continue
        names = {n for n in imported_names(module, path) if n and not _in(n, "sglike.kernels") and n != "__future__"}
        outside = sorted(n for n in names if n.split(".")[0] not in allowed)
        if outside:
            bad[module] = outside
    assert not bad


def test_no_source_file_over_300_lines():
    folders = ["sglike", "runtime", "grammar", "kernels", "tests", "benchmarks", "examples"]
    long = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            n = len(path.read_text().splitlines())
            if n > MAX_LINES:
                long[str(path.relative_to(ROOT))] = n
    assert not long, f"files over {MAX_LINES} lines: {long}"
