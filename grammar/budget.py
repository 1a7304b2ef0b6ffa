"""A per-compile time budget: the compile loops call `check()`, which raises
`GrammarError("grammar too large ...")` once the budget of the compile in progress is spent.

The budget is a context variable, so compiles on different threads (the scheduler compiles
off its loop) each have their own, and code run outside `compile_budget` never stops.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from .errors import GrammarError

DEFAULT_COMPILE_BUDGET_S = 6.0  # GrammarCompiler's default; None there means no limit

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("grammar_deadline", default=None)


@contextmanager
def compile_budget(seconds: float | None) -> Iterator[None]:
    """Within the block, `check()` raises once `seconds` have passed (None: never). A nested
    budget never extends the one around it."""
    outer = _deadline.get()
    if seconds is None:
        token = _deadline.set(outer)
    else:
        end = time.perf_counter() + seconds
        if outer is not None and outer[0] < end:
            end, seconds = outer
        token = _deadline.set((end, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def check(where: str = "compiling") -> None:
    """Raise GrammarError when the current compile budget is spent (cheap: call it often)."""
    d = _deadline.get()
    if d is not None and time.perf_counter() > d[0]:
        raise GrammarError(f"grammar too large: compiling went over its budget of {d[1]:g} s "
                           f"(while {where}); simplify the schema or raise compile_budget_s")


def remaining() -> float | None:
    """Seconds left in the current budget (None when unlimited)."""
    d = _deadline.get()
    return None if d is None else max(0.0, d[0] - time.perf_counter())


SRE_CHARS_PER_S = 300_000  # Python's regex parser on a long pattern (measured ~0.5 M/s), slow side


def check_parse(pattern: str, where: str = "parsing a regex") -> None:
    """Before handing `pattern` to Python's regex parser, which cannot be interrupted: raise
    now when the budget left would not cover it, instead of overrunning the budget."""
    left = remaining()
    if left is not None and len(pattern) > SRE_CHARS_PER_S * left:
        d = _deadline.get()
        raise GrammarError(f"grammar too large: a regex of {len(pattern)} characters would run "
                           f"past the compile budget of {d[1]:g} s (while {where}); simplify the "
                           f"schema or raise compile_budget_s")


CFG_CHARS_PER_S = 100_000  # a recursive schema's rule text through the CFG path, ~120 k/s measured


def check_text(chars: int, chars_per_s: float, what: str) -> None:
    """Before work that costs about `chars / chars_per_s` seconds and cannot finish sooner:
    raise now when the budget left would not cover it (no budget: never)."""
    left = remaining()
    if left is not None and chars > chars_per_s * left:
        d = _deadline.get()
        raise GrammarError(f"grammar too large: {what} of {chars} characters would run past "
                           f"the compile budget of {d[1]:g} s; simplify the schema or raise "
                           f"compile_budget_s")
