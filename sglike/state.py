"""``ProgramState``: the ``s`` a program appends to (``s += ...``, ``s["x"]``, ``s.fork(n)``).

A root state runs each appended expression at once in the program's thread. Forked
states are lazy: they queue what is appended and run when something needs a result;
then all branches of the group run in lockstep (see :mod:`sglike.fork`) so each round
of gens/selects reaches the backend as one batch.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, AsyncIterator, Iterator

from .backend.base import Backend
from .buffer import ProgramBuffer
from .chat_template import ChatTemplate
from .context import RunDefaults
from .fork import JOIN_MODES, ForkGroup
from .interpreter import drive, nodes_steps
from .ir import Expr, RoleBegin, RoleEnd, VarScopeBegin, VarScopeEnd, as_expr, flatten

__all__ = ["ProgramState", "ForkGroup", "JOIN_MODES"]


class ProgramState:
    """The running state of a program: text so far, variables, messages, metadata."""

    def __init__(self, backend: Backend, defaults: RunDefaults | None = None, *, streaming: bool = False,
                 chat_template: ChatTemplate | None = None, buffer: ProgramBuffer | None = None) -> None:
        self.backend = backend
        self.buffer = buffer or ProgramBuffer(chat_template or backend.chat_template, defaults, streaming=streaming)
        self._error: BaseException | None = None
        self._runner: int | None = None  # thread id running the program (streaming runs)
        self._group: ForkGroup | None = None  # set on forked (lazy) states
        self._pending: list[Expr] = []
        self._children: list[ForkGroup] = []

    @property
    def variables(self) -> dict[str, Any]:
        return self.buffer.variables

    @property
    def meta_info(self) -> dict[str, Any]:
        return self.buffer.meta_info

    @property
    def chat_template(self) -> ChatTemplate:
        return self.buffer.chat_template

    # ---- appending ----------------------------------------------------------------
    def __iadd__(self, other: Any) -> "ProgramState":
        expr = as_expr(other)
        if self._group is not None:
            self._pending.extend(flatten(expr))
        else:
            drive(self.backend, self.buffer, nodes_steps(self.buffer, flatten(expr)))
        return self

    # ---- reading ------------------------------------------------------------------
    def sync(self) -> None:
        """Wait until the results appended so far are available."""
        if self._runner is not None and self._runner != threading.get_ident():
            self.buffer.stream.wait()
        if self._group is not None and self._group.has_pending():
            self._group.flush()

    def __getitem__(self, name: str) -> Any:
        return self.get_var(name)

    def get_var(self, name: str) -> Any:
        self.sync()
        if name not in self.variables:
            if self._error is not None:
                raise KeyError(f"no variable {name!r} (the program failed: {self._error!r})") from self._error
            raise KeyError(f"no variable {name!r}")
        return self.variables[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.set_var(name, value)

    def set_var(self, name: str, value: Any) -> None:
        self.sync()
        self.buffer.set_var(name, value)

    def __contains__(self, name: str) -> bool:
        self.sync()
        return name in self.variables

    def text(self) -> str:
        self.sync()
        return self.buffer.current_text

    def messages(self) -> list[dict[str, str]]:
        self.sync()
        return self.buffer.chat_messages()

    def get_meta_info(self, name: str) -> Any:
        self.sync()
        return self.meta_info.get(name)

    def error(self) -> BaseException | None:
        """The exception the program raised, or None."""
        self.sync()
        return self._error

    # ---- blocks -------------------------------------------------------------------
    @contextlib.contextmanager
    def _role(self, role: str) -> Iterator[None]:
        self += RoleBegin(role)
        yield
        self += RoleEnd(role)

    def system(self, expr: Any = None):
        """``with s.system():`` block, or ``s.system("text")`` to append a message."""
        return self._role_call("system", expr)

    def user(self, expr: Any = None):
        return self._role_call("user", expr)

    def assistant(self, expr: Any = None):
        return self._role_call("assistant", expr)

    def _role_call(self, role: str, expr: Any):
        if expr is None:
            return self._role(role)
        self += [RoleBegin(role), as_expr(expr), RoleEnd(role)]
        return None

    @contextlib.contextmanager
    def var_scope(self, name: str) -> Iterator[None]:
        """Store the text appended inside the block in variable ``name``."""
        self += VarScopeBegin(name)
        yield
        self += VarScopeEnd(name)

    # ---- fork/join ----------------------------------------------------------------
    def fork(self, size: int = 1) -> ForkGroup:
        """``size`` copies of this state; their appends run together (batched)."""
        if size < 1:
            raise ValueError("fork(size) needs size >= 1")
        self.sync()
        children = [ProgramState(self.backend, buffer=self.buffer.branch()) for _ in range(int(size))]
        group = ForkGroup(self, children)
        for child in children:
            child._group = group
        self._children.append(group)
        return group

    @contextlib.contextmanager
    def copy(self) -> Iterator["ProgramState"]:
        """``with s.copy() as c:``: a one-branch fork, joined (gather) when the block ends."""
        group = self.fork(1)
        try:
            yield group[0]
        finally:
            group.join()

    # operations the fork group uses on its branches
    def has_pending(self) -> bool:
        return bool(self._pending)

    def take_pending(self) -> list[Expr]:
        """The queued nodes of a lazy (forked) state, removed from the queue."""
        nodes, self._pending = self._pending, []
        return nodes

    def record_error(self, exc: BaseException) -> None:
        self._error = exc

    def finish_children(self) -> None:
        """Run every queued fork branch below this state (called when a program returns)."""
        for group in self._children:
            group.flush()
            for st in group.states:
                st.finish_children()

    # ---- run bookkeeping (used by Program) ------------------------------------------
    def mark_runner(self) -> None:
        """Record the current thread as the one running the program (streaming runs)."""
        self._runner = threading.get_ident()

    def finish_stream(self) -> None:
        """End the text stream (with the program's error, if any) so readers never hang."""
        self.buffer.stream.finish(self._error)

    # ---- streaming ----------------------------------------------------------------
    def text_iter(self, var_name: str | None = None) -> Iterator[str]:
        """Yield text as it is produced (only ``var_name``'s, when given)."""
        if not self.buffer.streaming:
            self.sync()
            value = self.buffer.current_text if var_name is None else self.variables.get(var_name, "")
            yield from ([value] if value else [])
            return
        yield from self.buffer.stream.iter(var_name)

    async def text_async_iter(self, var_name: str | None = None) -> AsyncIterator[str]:
        """Async twin of :meth:`text_iter`."""
        if not self.buffer.streaming:
            for chunk in self.text_iter(var_name):
                yield chunk
            return
        async for chunk in self.buffer.stream.aiter(var_name):
            yield chunk

    def __repr__(self) -> str:
        return f"ProgramState({self.buffer.current_text[-200:]!r}, variables={list(self.variables)})"
