"""The Triton kernels compile for a real GPU target (sm_90, bfloat16, head_dim 64) even
where no GPU is present: ahead-of-time compilation in a subprocess without the interpreter
(this process runs them interpreted). Numerics are the parity tests' job."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("triton")


def test_kernels_compile_for_sm90() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    script = os.path.join(os.path.dirname(__file__), "triton_aot.py")
    done = subprocess.run([sys.executable, script, "90"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    compiled = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("compiled")]
    assert compiled == ["_split_kernel", "_merge_kernel", "_prefix_kernel", "_extend_kernel", "_store_kernel"]
