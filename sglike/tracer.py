"""``program.trace()``: record a program's IR without a model.

The function runs against a recording state. Arguments that were not given become
placeholders; reading a variable gives a placeholder. Using a placeholder in Python
control flow (``if``, ``int()``, an f-string) cannot be traced: the trace stops there and
says so (``complete=False``), keeping every node recorded before that point.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from .backend.base import Backend
from .binding import ProgramSignature
from .fork import per_branch
from .ir import (Arg, Expr, Fork, Join, RoleBegin, RoleEnd, Text, VarRef, VarScopeBegin, VarScopeEnd,
                 as_expr, describe, flatten)
from .state import ProgramState


class TraceStop(Exception):
    """A placeholder was used where its value is needed."""


class _Unknown:
    """Mixin: any use of the value stops the trace."""

    def _stop(self, *_: Any, **__: Any) -> Any:
        raise TraceStop(f"{self!r} is only known at run time")

    __bool__ = __str__ = __format__ = __int__ = __float__ = __iter__ = __len__ = __getitem__ = _stop
    __eq__ = __lt__ = __gt__ = __le__ = __ge__ = __contains__ = _stop
    __hash__ = object.__hash__


class ArgPlaceholder(_Unknown, Arg):
    pass


class VarPlaceholder(_Unknown, VarRef):
    pass


@dataclass
class TracedProgram:
    """The recorded IR: primitive nodes in order (forks nest their branches)."""

    name: str
    nodes: list[Expr] = field(default_factory=list)
    complete: bool = True
    stop_reason: str | None = None

    def __str__(self) -> str:
        lines = [f"program {self.name}:"] + [f"  {describe(n)}" for n in self.nodes]
        if not self.complete:
            lines.append(f"  ... (trace stopped: {self.stop_reason})")
        return "\n".join(lines)

    def constant_prefix_nodes(self) -> list[Expr]:
        """The leading nodes whose text does not depend on arguments or the model."""
        out = []
        for node in self.nodes:
            if not isinstance(node, (Text, RoleBegin, RoleEnd)):
                break
            out.append(node)
        return out


class TracerState:
    """Records what a program appends; mirrors ProgramState's surface."""

    def __init__(self, groups: list["TracerGroup"] | None = None) -> None:
        self.nodes: list[Expr] = []
        self._groups = groups if groups is not None else []  # shared by the whole trace

    def __iadd__(self, other: Any) -> "TracerState":
        self.nodes.extend(flatten(as_expr(other)))
        return self

    def __getitem__(self, name: str) -> VarRef:
        return VarPlaceholder(name)

    get_var = __getitem__

    def set_var(self, name: str, value: Any) -> None:
        pass

    __setitem__ = set_var

    def get_meta_info(self, name: str) -> Any:
        raise TraceStop("meta info is only known at run time")

    def text(self) -> str:
        raise TraceStop("text() is only known at run time")

    def messages(self) -> list[dict]:
        raise TraceStop("messages() are only known at run time")

    @contextlib.contextmanager
    def _role(self, role: str) -> Iterator[None]:
        self.nodes.append(RoleBegin(role))
        yield
        self.nodes.append(RoleEnd(role))

    def _role_call(self, role: str, expr: Any):
        if expr is None:
            return self._role(role)
        self.nodes.extend([RoleBegin(role), *flatten(as_expr(expr)), RoleEnd(role)])
        return None

    def system(self, expr: Any = None):
        return self._role_call("system", expr)

    def user(self, expr: Any = None):
        return self._role_call("user", expr)

    def assistant(self, expr: Any = None):
        return self._role_call("assistant", expr)

    @contextlib.contextmanager
    def var_scope(self, name: str) -> Iterator[None]:
        self.nodes.append(VarScopeBegin(name))
        yield
        self.nodes.append(VarScopeEnd(name))

    def fork(self, size: int = 1) -> "TracerGroup":
        return TracerGroup(self, size)

    @contextlib.contextmanager
    def copy(self) -> Iterator["TracerState"]:
        group = self.fork(1)
        try:
            yield group[0]
        finally:
            group.join()


class TracerGroup:
    """Recording twin of ForkGroup."""

    def __init__(self, parent: TracerState, size: int) -> None:
        self.parent = parent
        self.states = [TracerState(parent._groups) for _ in range(size)]
        self._index = len(parent.nodes)
        parent.nodes.append(Fork(size))
        parent._groups.append(self)

    def _refresh(self) -> None:
        self.parent.nodes[self._index] = Fork(len(self.states), tuple(tuple(s.nodes) for s in self.states))

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> TracerState:
        return self.states[i]

    def __iter__(self) -> Iterator[TracerState]:
        return iter(self.states)

    def __setitem__(self, i: int, value: Any) -> None:
        if value is not self.states[i]:
            raise TypeError("fork branches cannot be replaced; extend one with forks[i] += ...")

    def __iadd__(self, other: Any) -> "TracerGroup":
        for st, item in zip(self.states, per_branch(other, len(self.states))):
            st += item
        return self

    def join(self, mode: str = "gather_variable") -> None:
        self._refresh()
        self.parent.nodes.append(Join(mode))


def trace_program(program: ProgramSignature, args: Sequence[Any], kwargs: dict[str, Any],
                  backend: Backend | None = None) -> TracedProgram:
    """Trace ``program`` with the given arguments; missing ones become placeholders."""
    given = program.arguments(args, kwargs)
    arguments = {n: given[n] if n in given else ArgPlaceholder(n) for n in program.arg_names}
    state = TracerState()
    traced = TracedProgram(program.name)
    try:
        program.func(state, **arguments)
    except TraceStop as stop:
        traced.complete, traced.stop_reason = False, str(stop)
    for group in reversed(state._groups):  # inner forks first
        group._refresh()
    traced.nodes = state.nodes
    return traced


def constant_prefix(program: ProgramSignature, backend: Backend) -> str:
    """The text every run of ``program`` starts with, rendered with the backend's chat
    template (empty when the program starts with something run-dependent)."""
    try:
        traced = trace_program(program, (), {}, backend)
    except Exception:  # noqa: BLE001 - a program that cannot be traced just gets no precache
        return ""
    nodes = traced.constant_prefix_nodes()
    if not nodes:
        return ""
    state = ProgramState(backend)
    state += nodes
    return state.text()
