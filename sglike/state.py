"""``ProgramState`` (the ``s`` a program appends to) and ``ForkGroup`` (``s.fork(n)``).

A root state runs each appended expression at once in the program's thread. Forked
states are lazy: they queue what is appended and run when something needs a result;
then all branches of the group run in lockstep so each round of gens/selects reaches
the backend as one batch.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, AsyncIterator, Iterator, Sequence

from .backend.base import Backend
from .chat_template import ChatTemplate
from .context import RunDefaults
from .interpreter import ProgramError, drive, drive_lockstep, nodes_steps
from .ir import Expr, RoleBegin, RoleEnd, Text, VarScopeBegin, VarScopeEnd, as_expr, flatten
from .streaming import TextStream

JOIN_MODES = {"gather_variable": "gather", "gather": "gather",
              "concate_and_append": "concat", "concat_and_append": "concat", "concat": "concat"}


class ProgramState:
    """The running state of a program: text so far, variables, messages, metadata."""

    def __init__(self, backend: Backend, defaults: RunDefaults | None = None, *, streaming: bool = False,
                 chat_template: ChatTemplate | None = None) -> None:
        self.backend = backend
        self.chat_template = chat_template or backend.chat_template
        self._defaults = defaults or RunDefaults()
        self._text = ""
        self.variables: dict[str, Any] = {}
        self.meta_info: dict[str, Any] = {}
        self._messages: list[dict[str, str]] = []
        self._roles: list[tuple[str, int]] = []
        self._scopes: dict[str, int] = {}
        self._streaming = streaming
        self._stream = TextStream()
        self._current_var: str | None = None
        self._error: BaseException | None = None
        self._runner: int | None = None  # thread id running the program (streaming runs)
        self._group: ForkGroup | None = None  # set on forked (lazy) states
        self._pending: list[Expr] = []
        self._children: list[ForkGroup] = []

    # ---- appending ----------------------------------------------------------------
    def __iadd__(self, other: Any) -> "ProgramState":
        expr = as_expr(other)
        if self._group is not None:
            self._pending.extend(flatten(expr))
        else:
            drive(self, nodes_steps(self, flatten(expr)))
        return self

    def _append(self, text: str, var: str | None = None, published: bool = False) -> None:
        self._text += text
        if self._streaming and not published:
            self._stream.put(var, text)

    def _publish(self, var: str | None, text: str) -> None:
        if self._streaming:
            self._stream.put(var, text)

    # ---- reading ------------------------------------------------------------------
    def sync(self) -> None:
        """Wait until the results appended so far are available."""
        if self._runner is not None and self._runner != threading.get_ident():
            self._stream.wait()
        if self._group is not None and self._group._has_pending():
            self._group.flush()

    def __getitem__(self, name: str) -> Any:
        return self.get_var(name)

    def get_var(self, name: str) -> Any:
        self.sync()
        if name not in self.variables:
            hint = f" (the program failed: {self._error!r})" if self._error else ""
            raise KeyError(f"no variable {name!r}{hint}")
        return self.variables[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.set_var(name, value)

    def set_var(self, name: str, value: Any) -> None:
        self.sync()
        self.variables[name] = value

    def __contains__(self, name: str) -> bool:
        self.sync()
        return name in self.variables

    def text(self) -> str:
        self.sync()
        return self._text

    def messages(self) -> list[dict[str, str]]:
        self.sync()
        return [dict(m) for m in self._messages]

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
    def fork(self, size: int = 1) -> "ForkGroup":
        """``size`` copies of this state; their appends run together (batched)."""
        if size < 1:
            raise ValueError("fork(size) needs size >= 1")
        self.sync()
        group = ForkGroup(self, [self._copy_for_fork() for _ in range(size)])
        self._children.append(group)
        return group

    def _copy_for_fork(self) -> "ProgramState":
        child = ProgramState(self.backend, self._defaults, chat_template=self.chat_template)
        child._text = self._text
        child.variables = dict(self.variables)
        child.meta_info = dict(self.meta_info)
        child._messages = [dict(m) for m in self._messages]
        child._roles = list(self._roles)
        child._scopes = dict(self._scopes)
        return child

    def _finish_children(self) -> None:
        """Run every queued fork branch (called when a program returns)."""
        for group in self._children:
            group.flush()
            for st in group.states:
                st._finish_children()

    # ---- streaming ----------------------------------------------------------------
    def text_iter(self, var_name: str | None = None) -> Iterator[str]:
        """Yield text as it is produced (only ``var_name``'s, when given)."""
        if not self._streaming:
            self.sync()
            value = self._text if var_name is None else self.variables.get(var_name, "")
            yield from ([value] if value else [])
            return
        yield from self._stream.iter(var_name)

    async def text_async_iter(self, var_name: str | None = None) -> AsyncIterator[str]:
        """Async twin of :meth:`text_iter`."""
        if not self._streaming:
            for chunk in self.text_iter(var_name):
                yield chunk
            return
        async for chunk in self._stream.aiter(var_name):
            yield chunk

    def __repr__(self) -> str:
        return f"ProgramState({self._text[-200:]!r}, variables={list(self.variables)})"


class ForkGroup:
    """The states made by ``s.fork(n)``: index, iterate, ``+=`` all, ``join()``."""

    def __init__(self, parent: ProgramState, states: Sequence[ProgramState]) -> None:
        self.parent = parent
        self.states = list(states)
        self._fork_pos = len(parent._text)
        self._fork_vars = dict(parent.variables)
        self._fork_msgs = len(parent._messages)
        for st in self.states:
            st._group = self

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> ProgramState:
        return self.states[i]

    def __iter__(self) -> Iterator[ProgramState]:
        return iter(self.states)

    def __iadd__(self, other: Any) -> "ForkGroup":
        """``forks += expr`` appends to every branch; a list gives one item per branch."""
        if isinstance(other, (list, tuple)):
            if len(other) != len(self.states):
                raise ValueError(f"got {len(other)} expressions for {len(self.states)} forks")
            for st, item in zip(self.states, other):
                st += item
        else:
            for st in self.states:
                st += other
        return self

    def _has_pending(self) -> bool:
        return any(st._pending for st in self.states)

    def flush(self) -> None:
        """Run every branch's queued nodes in lockstep (one batch per round)."""
        runners, owners = [], []
        for st in self.states:
            if st._pending:
                nodes, st._pending = st._pending, []
                runners.append(nodes_steps(st, nodes))
                owners.append(st)
        if not runners:
            return
        try:
            drive_lockstep(self.parent.backend, runners)
        except BaseException as exc:
            for st in owners:
                st._error = exc
            raise

    def join(self, mode: str = "gather_variable") -> None:
        """Bring results back: ``gather_variable`` makes each new variable a list in the
        parent; ``concate_and_append`` appends each branch's new text to the parent."""
        kind = JOIN_MODES.get(mode)
        if kind is None:
            raise ValueError(f"join mode must be one of {sorted(JOIN_MODES)} (got {mode!r})")
        self.flush()
        for st in self.states:
            st._finish_children()
        if kind == "concat":
            self.parent += Text("".join(st._text[self._fork_pos:] for st in self.states))
            for st in self.states:
                self.parent._messages.extend(dict(m) for m in st._messages[self._fork_msgs:])
            return
        names: list[str] = []
        for st in self.states:
            for k, v in st.variables.items():
                if (k not in self._fork_vars or self._fork_vars[k] is not v) and k not in names:
                    names.append(k)
        for k in names:
            self.parent.variables[k] = [st.variables.get(k) for st in self.states]
            self.parent.meta_info[k] = [st.meta_info.get(k) for st in self.states]
