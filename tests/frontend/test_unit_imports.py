"""Import hygiene of the DSL package: ``sglike`` loads its names lazily, so the runtime and
grammar packages load no DSL module (import circles and file sizes: tests/arch)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import sglike

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
