"""Whether the Triton kernels can run here: triton installed, and CUDA or the interpreter.

Imports neither torch nor triton, so the runtime can ask before loading either.
"""
from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # no torch import here: the API process checks names without torch
    import torch


def interpreting() -> bool:
    """True when ``TRITON_INTERPRET=1``: kernels run on CPU tensors, in numpy (slow; tests)."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def why_unavailable(device: "torch.device") -> str | None:
    """None when the kernels can run on ``device``, else the reason, phrased for the user."""
    if importlib.util.find_spec("triton") is None:
        return "attention_backend='triton' needs the triton package (pip install triton)"
    if device.type == "cuda" or interpreting():
        return None
    return (
        f"attention_backend='triton' needs a CUDA device (the engine runs on {device}); "
        "use attention_backend='torch' (or 'auto'), or set TRITON_INTERPRET=1 to run the kernels on CPU for tests"
    )
