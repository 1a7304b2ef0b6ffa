"""sglike: a DSL for multi-call LLM programs and the runtime that serves them.

``import sglike as sgl`` gives SGLang's frontend names: ``program``/``function``, ``gen``,
``gen_int``, ``gen_string``, ``select``, ``system``/``user``/``assistant`` (and
``*_begin``/``*_end``), backends ``Runtime``, ``RuntimeEndpoint``, ``OpenAI`` and
``set_default_backend``. Importing sglike does not import torch.
"""
from __future__ import annotations

from typing import Any

from .backend.base import Backend, BackendError, UnsupportedFeature
from .chat_template import ChatTemplate, get_chat_template, register_chat_template
from .choices import greedy_token_selection, token_length_normalized, unconditional_likelihood_normalized
from .context import get_default_backend, set_default_backend
from .interpreter import ProgramError
from .primitives import (assistant, assistant_begin, assistant_end, gen, gen_int, gen_string, select, system,
                         system_begin, system_end, user, user_begin, user_end)
from .program import Program, function, program
from .state import ForkGroup, ProgramState

__all__ = [
    "program", "function", "Program", "ProgramState", "ForkGroup", "ProgramError",
    "gen", "gen_int", "gen_string", "select",
    "system", "user", "assistant", "system_begin", "system_end", "user_begin", "user_end",
    "assistant_begin", "assistant_end",
    "token_length_normalized", "greedy_token_selection", "unconditional_likelihood_normalized",
    "ChatTemplate", "register_chat_template", "get_chat_template",
    "Backend", "BackendError", "UnsupportedFeature", "Runtime", "RuntimeEndpoint", "OpenAI",
    "set_default_backend", "get_default_backend",
]


def __getattr__(name: str) -> Any:
    if name in ("Runtime", "RuntimeEndpoint", "OpenAI"):
        from . import backend

        return getattr(backend, name)
    raise AttributeError(f"module 'sglike' has no attribute {name!r}")
