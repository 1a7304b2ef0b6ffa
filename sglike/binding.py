"""``ProgramSignature``: a program's function and how call arguments bind to it.

Shared by :class:`~sglike.program.Program` (to run) and :mod:`sglike.tracer` (to trace),
so neither needs the other.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class ProgramSignature:
    """``def f(s, a, b=...)``: the arguments after the state, and any fixed by ``bind``."""

    func: Callable[..., Any]
    arg_names: tuple[str, ...]
    bound: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, func: Callable[..., Any], bound: dict[str, Any] | None = None) -> "ProgramSignature":
        params = list(inspect.signature(func).parameters.values())
        if not params:
            raise TypeError(f"program {func.__name__} must take the state as its first argument")
        return cls(func, tuple(p.name for p in params[1:]), dict(bound or {}))

    @property
    def name(self) -> str:
        return self.func.__name__

    def bind(self, **kwargs: Any) -> "ProgramSignature":
        """A copy with some arguments fixed."""
        unknown = set(kwargs) - set(self.arg_names)
        if unknown:
            raise TypeError(f"{self.name}() has no argument(s) {sorted(unknown)}")
        return ProgramSignature(self.func, self.arg_names, {**self.bound, **kwargs})

    def arguments(self, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for ``func`` (after the state) from a call's args/kwargs."""
        call = dict(self.bound)
        free = [n for n in self.arg_names if n not in self.bound]
        if len(args) > len(free):
            raise TypeError(f"{self.name}() takes {len(free)} positional argument(s), got {len(args)}")
        call.update(zip(free, args))
        call.update(kwargs)
        return call
