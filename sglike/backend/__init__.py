"""DSL backends: one small interface (:class:`Backend`), three implementations.

The implementations are imported lazily so ``import sglike`` stays light (no torch)."""
from __future__ import annotations

from typing import Any

from .base import Backend, BackendError, GenRequest, GenResult, SelectRequest, UnsupportedFeature

__all__ = ["Backend", "BackendError", "GenRequest", "GenResult", "SelectRequest", "UnsupportedFeature",
           "Runtime", "RuntimeEndpoint", "OpenAI"]

_LAZY = {"Runtime": ".runtime", "RuntimeEndpoint": ".endpoint", "OpenAI": ".openai"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)
