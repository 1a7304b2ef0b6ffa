"""Maps the top-level folders to the `sglike.*` import packages (see DESIGN.md) and builds
the CPU kernels (kernels/cpu/quant_gemm.cpp) with torch.utils.cpp_extension when torch and
a C++ compiler are present, and the grammar's native helpers (grammar/native: pybind11 from
torch's headers, no libtorch link); without them the runtime falls back to its torch kernels
and the grammar to its Python walks."""
import os
import platform
import sys

from setuptools import Extension, setup

PACKAGE_DIRS = {
    "sglike": "sglike",
    "sglike.runtime": "runtime",
    "sglike.grammar": "grammar",
    "sglike.kernels": "kernels",
}


def _packages() -> list[str]:
    found = []
    for package, folder in PACKAGE_DIRS.items():
        for root, _dirs, files in os.walk(folder):
            if "__init__.py" in files:
                found.append(package + root[len(folder):].replace(os.sep, "."))
    return found


def _extensions() -> dict:
    if platform.machine() not in ("x86_64", "AMD64") or os.environ.get("SGLIKE_NO_EXTENSIONS"):
        return {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        print("sglike: torch is not importable at build time; CPU kernels not built", file=sys.stderr)
        return {}
    ext = CppExtension("sglike.kernels.cpu._C", [f"kernels/cpu/{f}.cpp" for f in ("bindings", "quant_gemm", "vnni_gemm", "fused_ops", "decode_attention", "decode_step", "huge_pages")], extra_compile_args=["-O3", "-fopenmp"], extra_link_args=["-fopenmp"])
    import torch
    grammar = Extension("sglike.grammar.native._native", [f"grammar/native/{f}.cpp" for f in ("bindings", "subsets", "trie_walk", "nfa_build", "ir_program")],
                        include_dirs=[os.path.join(os.path.dirname(torch.__file__), "include")],
                        extra_compile_args=["-O3", "-std=c++17"], language="c++")
    return {"ext_modules": [ext, grammar], "cmdclass": {"build_ext": BuildExtension}}


setup(packages=_packages(), package_dir=PACKAGE_DIRS, **_extensions())
