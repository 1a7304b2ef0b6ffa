"""Attention backends over the token-level KV pool, chosen by name from a registry."""
from __future__ import annotations

from typing import Callable

from .base import AttentionBackend

_REGISTRY: dict[str, Callable[..., AttentionBackend]] = {}


def register_backend(name: str, factory: Callable[..., AttentionBackend]) -> None:
    _REGISTRY[name] = factory


def create_backend(name: str, **kwargs) -> AttentionBackend:
    if name not in _REGISTRY:
        raise ValueError(f"unknown attention_backend {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)


def _register_builtin() -> None:
    from .torch_backend import TorchAttentionBackend

    register_backend("torch", TorchAttentionBackend)


_register_builtin()

__all__ = ["AttentionBackend", "create_backend", "register_backend"]
