"""Attention backends over the token-level KV pool, chosen by ``attention_backend`` name.

The registry maps each name to the module and class that implement it; a backend's module
(and torch, or later triton) is imported only when that backend is created, so the engine
config can validate names in the torch-free API process.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import AttentionBackend

BACKENDS: dict[str, tuple[str, str]] = {  # name -> (module in this package, class)
    "torch": (".torch_backend", "TorchAttentionBackend"),  # fast paths; the CPU default
    "torch_ref": (".torch_ref_backend", "TorchReferenceBackend"),  # plain reference twins
}


def check_backend_name(name: str) -> None:
    """Raises ValueError naming the registered backends when ``name`` is not one of them."""
    if name not in BACKENDS:
        raise ValueError(f"unknown attention_backend {name!r}; available: {', '.join(sorted(BACKENDS))}")


def backend_class(name: str) -> type[AttentionBackend]:
    check_backend_name(name)
    module, cls = BACKENDS[name]
    return getattr(import_module(module, __name__), cls)


def create_backend(name: str, **kwargs: Any) -> AttentionBackend:
    """kwargs: kv_pool, req_to_token, num_heads, num_kv_heads, head_dim."""
    return backend_class(name)(**kwargs)


__all__ = ["BACKENDS", "backend_class", "check_backend_name", "create_backend"]
