"""sglike: a DSL for multi-call LLM programs and the runtime that serves them.

``import sglike as sgl`` gives SGLang's frontend names: ``program``/``function``, ``gen``,
``gen_int``, ``gen_string``, ``select``, ``system``/``user``/``assistant`` (and
``*_begin``/``*_end``), backends ``Runtime``, ``RuntimeEndpoint``, ``OpenAI`` and
``set_default_backend``. Importing sglike does not import torch.

The names load lazily (PEP 562): ``import sglike.runtime`` or ``import sglike.grammar``
(which run this file first) load no DSL module; the first use of a name imports its
module.
"""
from __future__ import annotations

import importlib
from typing import Any

# public name -> the module (relative to sglike) that defines it; __all__ keeps this order
_EXPORTS: dict[str, str] = {
    "program": ".program", "function": ".program", "Program": ".program",
    "ProgramState": ".state", "ForkGroup": ".fork", "ProgramError": ".buffer",
    "gen": ".primitives", "gen_int": ".primitives", "gen_string": ".primitives", "select": ".primitives",
    "system": ".primitives", "user": ".primitives", "assistant": ".primitives",
    "system_begin": ".primitives", "system_end": ".primitives", "user_begin": ".primitives",
    "user_end": ".primitives", "assistant_begin": ".primitives", "assistant_end": ".primitives",
    "token_length_normalized": ".choices", "greedy_token_selection": ".choices",
    "unconditional_likelihood_normalized": ".choices",
    "ChatTemplate": ".chat_template", "register_chat_template": ".chat_template",
    "get_chat_template": ".chat_template",
    "Backend": ".backend.base", "BackendError": ".backend.base", "UnsupportedFeature": ".backend.base",
    "Runtime": ".backend", "RuntimeEndpoint": ".backend", "OpenAI": ".backend",
    "set_default_backend": ".context", "get_default_backend": ".context",
}

# DSL submodules reachable as attributes (``sgl.primitives``) without importing them first
_SUBMODULES = ("backend", "binding", "buffer", "chat_template", "choices", "context", "fork", "interpreter",
               "ir", "primitives", "program", "state", "streaming", "tracer", "workers")

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'sglike' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
