"""``ForkGroup``: the branches made by ``s.fork(n)`` and how they join back (SGLang's semantics).

- ``forks += expr`` appends to every branch; a list/tuple gives one item per branch; a
  callable is called with each branch's index (``forks += lambda i: f"... {i} ..."``).
- ``forks[i] += expr`` extends one branch (Python calls ``forks[i] = forks[i]`` after it).
- ``join()`` / ``join("gather_variable")``: every variable a branch set after the fork
  becomes, on the parent, the list of the values of the branches that set it (in fork
  order); the parent's text is unchanged. Unlike SGLang, a variable the parent already
  had is gathered too when the branches set it again (so a fork loop can reuse a name).
- ``join("concate_and_append")``: what each branch added after the fork point (text and
  chat messages) is appended to the parent in fork order; the next request on the parent
  reuses the branches' KV through the backend's prefix cache.

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


def per_branch(other: Any, n: int) -> list[Any]:
    """What ``forks += other`` appends to each of ``n`` branches: a list/tuple gives one item
    per branch, a callable ``other(i)``, anything else the same expression everywhere."""
    if isinstance(other, (list, tuple)):
        if len(other) != n:
            raise ValueError(f"got {len(other)} expressions for {n} forks")
        return list(other)
    if callable(other):
        return [other(i) for i in range(n)]
    return [other] * n


class ForkGroup:
    """The states made by ``s.fork(n)``: index, iterate, ``+=`` all, ``join()``."""

    def __init__(self, parent: Branch, states: Sequence[Branch]) -> None:
        self.parent = parent
        self.states = list(states)

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> Any:
        return self.states[i]

    def __setitem__(self, i: int, value: Any) -> None:
        """Completes ``forks[i] += expr``; a branch cannot be replaced by something else."""
        if value is not self.states[i]:
            raise TypeError("fork branches cannot be replaced; extend one with forks[i] += ...")

    def __iter__(self) -> Iterator[Any]:
        return iter(self.states)

    def __iadd__(self, other: Any) -> "ForkGroup":
        """Append to every branch: the same expression, one list item each, or ``other(i)``."""
        for st, item in zip(self.states, per_branch(other, len(self.states))):
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
        """Bring the branches' results back to the parent (see the module docstring)."""
        kind = JOIN_MODES.get(mode)
        if kind is None:
            raise ValueError(f"join mode must be one of {sorted(JOIN_MODES)} (got {mode!r})")
        self.flush()
        for st in self.states:
            st.finish_children()
        if kind == "concat":
            self.parent += ConcatAndAppend(tuple(st.buffer for st in self.states))
            return
        gathered: dict[str, tuple[list[Any], list[Any]]] = {}
        for st in self.states:
            for name in st.buffer.written:
                values, metas = gathered.setdefault(name, ([], []))
                values.append(st.buffer.variables[name])
                metas.append(st.buffer.meta_info.get(name))
        for name, (values, metas) in gathered.items():
            self.parent.buffer.set_result(name, values, metas)

