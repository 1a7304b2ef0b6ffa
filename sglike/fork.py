"""``ForkGroup``: the branches made by ``s.fork(n)`` and how they join back.

The group runs its branches in lockstep, one batch per round; a backend error raises
from whatever forced the run (a read, ``join()``, or the end of the program).
"""
from __future__ import annotations

from typing import Any, Iterator, Protocol, Sequence

from .backend.base import Backend
from .buffer import ProgramBuffer
from .interpreter import drive_lockstep, nodes_steps
from .ir import ConcatAndAppend, Expr

# join mode (SGLang's names and our aliases) -> what it does
JOIN_MODES = {"gather_variable": "gather", "gather": "gather",
              "concate_and_append": "concat", "concat_and_append": "concat", "concat": "concat"}


class Branch(Protocol):
    """What the group needs from the parent and from each branch (a ProgramState)."""

    backend: Backend
    buffer: ProgramBuffer

    def __iadd__(self, other: Any) -> Any: ...

    def has_pending(self) -> bool: ...

    def take_pending(self) -> list[Expr]: ...

    def record_error(self, exc: BaseException) -> None: ...

    def finish_children(self) -> None: ...


class ForkGroup:
    """The states made by ``s.fork(n)``: index, iterate, ``+=`` all, ``join()``."""

    def __init__(self, parent: Branch, states: Sequence[Branch]) -> None:
        self.parent = parent
        self.states = list(states)
        self._fork_vars = dict(parent.buffer.variables)

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> Any:
        return self.states[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.states)

    def __iadd__(self, other: Any) -> "ForkGroup":
        """``forks += expr`` appends to every branch; a list gives one item per branch."""
        if isinstance(other, (list, tuple)):
            if len(other) != len(self.states):
                raise ValueError(f"got {len(other)} expressions for {len(self.states)} forks")
            items = list(other)
        else:
            items = [other] * len(self.states)
        for st, item in zip(self.states, items):
            st += item
        return self

    def has_pending(self) -> bool:
        return any(st.has_pending() for st in self.states)

    def flush(self) -> None:
        """Run every branch's queued nodes in lockstep (one batch per round)."""
        runners, owners = [], []
        for st in self.states:
            nodes = st.take_pending()
            if nodes:
                runners.append(nodes_steps(st.buffer, nodes))
                owners.append(st)
        if not runners:
            return
        try:
            drive_lockstep(self.parent.backend, runners)
        except BaseException as exc:
            for st in owners:
                st.record_error(exc)
            raise

    def join(self, mode: str = "gather_variable") -> None:
        """Bring results back: ``gather_variable`` makes each new variable a list in the
        parent; ``concate_and_append`` appends each branch's new text to the parent."""
        kind = JOIN_MODES.get(mode)
        if kind is None:
            raise ValueError(f"join mode must be one of {sorted(JOIN_MODES)} (got {mode!r})")
        self.flush()
        for st in self.states:
            st.finish_children()
        if kind == "concat":
            self.parent += ConcatAndAppend(tuple(st.buffer for st in self.states))
            return
        names: list[str] = []
        for st in self.states:
            for k, v in st.buffer.variables.items():
                if (k not in self._fork_vars or self._fork_vars[k] is not v) and k not in names:
                    names.append(k)
        for k in names:
            self.parent.buffer.set_result(k, [st.buffer.variables.get(k) for st in self.states],
                                          [st.buffer.meta_info.get(k) for st in self.states])
