"""Attention backends over the token-level KV pool, chosen by ``attention_backend`` name.

The registry maps each name to the module and class that implement it; a backend's module
(and torch or triton) is imported only when that backend is created, so the engine config
can validate names in the torch-free API process. ``auto`` resolves to ``triton`` on CUDA
(when triton is installed) and to ``torch`` elsewhere.
"""
from __future__ import annotations

import importlib.util
from importlib import import_module
from typing import TYPE_CHECKING, Any, Callable

from sglike.kernels.triton.support import why_unavailable as triton_unavailable

if TYPE_CHECKING:
    import torch

    from .base import AttentionBackend

BACKENDS: dict[str, tuple[str, str]] = {  # name -> (module in this package, class)
    "torch": (".torch_backend", "TorchAttentionBackend"),  # fast paths; the CPU default
    "torch_ref": (".torch_ref_backend", "TorchReferenceBackend"),  # plain reference twins
    "triton": (".triton_backend", "TritonAttentionBackend"),  # Triton kernels; the CUDA default
}
REQUIREMENTS: dict[str, Callable[[Any], str | None]] = {  # name -> (device -> why it cannot run there, or None)
    "triton": triton_unavailable,
}
AUTO = "auto"


def check_backend_name(name: str) -> None:
    """Raises ValueError naming the registered backends when ``name`` is not one of them."""
    if name != AUTO and name not in BACKENDS:
        raise ValueError(f"unknown attention_backend {name!r}; available: {', '.join(sorted(BACKENDS))} (or {AUTO})")


def resolve_backend_name(name: str, device: torch.device) -> str:
    """``auto`` -> ``triton`` on CUDA when triton is installed, else ``torch``; others as given."""
    check_backend_name(name)
    if name != AUTO:
        return name
    return "triton" if device.type == "cuda" and importlib.util.find_spec("triton") is not None else "torch"


def backend_class(name: str) -> type[AttentionBackend]:
    check_backend_name(name)
    module, cls = BACKENDS[name]
    return getattr(import_module(module, __name__), cls)


def create_backend(name: str, **kwargs: Any) -> AttentionBackend:
    """kwargs: kv_pool, req_to_token, num_heads, num_kv_heads, head_dim. ``name`` may be
    ``auto`` (resolved for the pool's device). Raises RuntimeError saying why when the
    backend cannot run on that device (``triton`` without CUDA or TRITON_INTERPRET=1)."""
    check_backend_name(name)
    device = kwargs["kv_pool"].k[0].device
    name = resolve_backend_name(name, device)
    reason = REQUIREMENTS[name](device) if name in REQUIREMENTS else None
    if reason is not None:
        raise RuntimeError(reason)
    return backend_class(name)(**kwargs)


__all__ = ["AUTO", "BACKENDS", "backend_class", "check_backend_name", "create_backend", "resolve_backend_name"]
