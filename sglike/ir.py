"""The program IR: the expressions a program appends to its state (``s += expr``).

Every primitive (``gen``, ``select``, ``user(...)``, a plain string) becomes one of these
frozen nodes. The interpreter executes them; the tracer records them. Expressions
concatenate with ``+`` into an :class:`ExprList`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

ROLES = ("system", "user", "assistant")


class Expr:
    """Base of every IR node; supports ``expr + expr`` and ``"text" + expr``."""

    def __add__(self, other: Any) -> "ExprList":
        return ExprList((self, as_expr(other)))

    def __radd__(self, other: Any) -> "ExprList":
        return ExprList((as_expr(other), self))


@dataclass(frozen=True, eq=False)
class Text(Expr):
    """Literal text appended to the state."""

    value: str


@dataclass(frozen=True, eq=False)
class ExprList(Expr):
    """A sequence of expressions executed in order."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class Gen(Expr):
    """Generate text into variable ``name``. ``params`` holds sampling options (SGLang
    names, ``max_tokens`` style already mapped to ``max_new_tokens``); ``dtype`` is
    int|float|bool|str or None; logprob options are kept apart from sampling."""

    name: str | None
    params: dict[str, Any] = field(default_factory=dict)
    dtype: type | None = None
    return_logprob: bool | None = None
    logprob_start_len: int | None = None
    top_logprobs_num: int | None = None


@dataclass(frozen=True, eq=False)
class Select(Expr):
    """Pick one of ``choices`` by scoring each continuation's prompt logprobs."""

    name: str | None
    choices: tuple[str, ...]
    method: Any = None  # a ChoicesMethod; None: token-length normalized


@dataclass(frozen=True, eq=False)
class RoleBegin(Expr):
    role: str


@dataclass(frozen=True, eq=False)
class RoleEnd(Expr):
    role: str


@dataclass(frozen=True, eq=False)
class RoleBlock(Expr):
    """``user(expr)``: begin the role, append ``body`` (may be None), end the role."""

    role: str
    body: Expr | None


@dataclass(frozen=True, eq=False)
class VarScopeBegin(Expr):
    name: str


@dataclass(frozen=True, eq=False)
class VarScopeEnd(Expr):
    name: str


@dataclass(frozen=True, eq=False)
class Arg(Expr):
    """Tracing placeholder for a program argument that was not given."""

    name: str


@dataclass(frozen=True, eq=False)
class VarRef(Expr):
    """Tracing placeholder for a variable read (``s["x"]``) during tracing."""

    name: str


@dataclass(frozen=True, eq=False)
class Fork(Expr):
    """Tracing record of ``s.fork(n)``: the nodes each branch appended."""

    size: int
    branches: tuple[tuple[Expr, ...], ...] = ()


@dataclass(frozen=True, eq=False)
class Join(Expr):
    """Tracing record of ``forks.join(mode)``."""

    mode: str


@dataclass(frozen=True, eq=False)
class ConcatAndAppend(Expr):
    """``join("concate_and_append")``: append what each branch (a ProgramBuffer) added
    after the fork point, in fork order."""

    states: tuple[Any, ...]


def as_expr(value: Any) -> Expr:
    """Coerce a user value (str, number, Expr, list/tuple of those) into an Expr."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, (list, tuple)):
        return ExprList(tuple(as_expr(v) for v in value))
    if isinstance(value, (int, float, bool)):
        return Text(str(value))
    raise TypeError(f"cannot append {type(value).__name__} to a program state (use str or a primitive)")


def flatten(expr: Expr) -> Iterator[Expr]:
    """Yield primitive nodes in execution order (ExprList and RoleBlock expanded)."""
    if isinstance(expr, ExprList):
        for item in expr.items:
            yield from flatten(item)
    elif isinstance(expr, RoleBlock):
        yield RoleBegin(expr.role)
        if expr.body is not None:
            yield from flatten(expr.body)
        yield RoleEnd(expr.role)
    else:
        yield expr


def describe(node: Expr) -> str:
    """A one-line human-readable rendering of a primitive node (for traces)."""
    if isinstance(node, Text):
        return f"Text({node.value!r})"
    if isinstance(node, Gen):
        extra = f", dtype={node.dtype.__name__}" if node.dtype else ""
        return f"Gen({node.name!r}, {node.params}{extra})"
    if isinstance(node, Select):
        return f"Select({node.name!r}, {list(node.choices)})"
    if isinstance(node, Fork):
        inner = "; ".join(" ".join(describe(n) for n in b) for b in node.branches)
        return f"Fork({node.size}: [{inner}])"
    return repr(node)


def node_list(items: Sequence[Expr]) -> list[Expr]:
    """Flatten a sequence of expressions to primitive nodes."""
    out: list[Expr] = []
    for item in items:
        out.extend(flatten(item))
    return out
