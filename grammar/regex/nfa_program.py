"""The regular IR as a flat int program for the native NFA builder (grammar/native/nfa_build.h).

`ByteNfa.add` in Python costs a few microseconds per IR node visited and per edge made; a
CFG terminal's NFA is built the first time the Earley recognizer predicts it, inside a token
mask, so on large object schemas that was most of the slowest masks (milliseconds). Here the
IR is written once per distinct node (shared sub-expressions, which parse.py hash-conses,
are written once and referenced), a character class as its UTF-8 byte paths (cached per
class for the process), and C++ makes the states and edges: the same NFA, edge for edge.
`program` writes the program in Python; `add_native` has C++ read the IR objects and write
it (grammar/native/ir_program.cpp, its twin), then build.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import native
from ..budget import check
from ..errors import GrammarError
from . import charset as cs
from .ir import Alt, Cls, Lit, Regex, RegularExpr, Rep, Seq
from .nfa_size import MAX_NFA_STATES
from .parse import parse_regex

LIT, CLS, SEQ, ALT, REP = range(5)  # node kinds, as in nfa_build.h
COLUMNS = ("e_src", "e_lo", "e_hi", "e_dst", "p_src", "p_dst")  # a ByteNfa's edge columns
_CLASS_CODES: dict[cs.Ranges, tuple[int, ...]] = {}  # ranges -> CLS node body, for the process


def enabled() -> bool:
    """Whether `add_native` can run (the extension built, SGLIKE_PY_GRAMMAR unset)."""
    return native.ENABLED


def class_code(ranges: cs.Ranges) -> tuple[int, ...]:
    """A CLS node: (CLS, number of paths, then per UTF-8 path its length and (lo, hi) pairs)."""
    key = tuple(ranges)
    code = _CLASS_CODES.get(key)
    if code is None:
        paths = cs.utf8_paths(key)
        body = [CLS, len(paths)]
        for path in paths:
            body.append(len(path))
            for lo, hi in path:
                body += (lo, hi)
        code = _CLASS_CODES[key] = tuple(body)
    return code


def program(expr: RegularExpr) -> tuple[np.ndarray, int]:
    """(int32 program, offset of `expr`'s node): children before parents, each distinct node
    object once (a `Regex` stands for its parsed IR)."""
    prog: list[int] = []
    at: dict[int, int] = {}  # id(node) -> offset; every node stays alive in `expr` or parse's cache

    def emit(e: RegularExpr) -> int:
        off = at.get(id(e))
        if off is not None:
            return off
        if isinstance(e, Regex):
            off = emit(parse_regex(e.pattern))
        elif isinstance(e, (Seq, Alt)):
            kids = [emit(i) for i in e.items]
            off = len(prog)
            prog.extend((SEQ if isinstance(e, Seq) else ALT, len(kids), *kids))
        elif isinstance(e, Rep):
            kid = emit(e.item)
            off = len(prog)
            prog.extend((REP, e.lo, -1 if e.hi is None else e.hi, kid))
        elif isinstance(e, Lit):
            off = len(prog)
            prog.extend((LIT, len(e.data), *e.data))
        elif isinstance(e, Cls):
            off = len(prog)
            prog.extend(class_code(e.ranges))
        else:
            raise GrammarError(f"not a regular expression: {e!r}")
        at[id(e)] = off
        return off

    root = emit(expr)
    arr = np.asarray(prog, dtype=np.int64)
    if arr.size and arr.max() > np.iinfo(np.int32).max:
        raise GrammarError("grammar too large (a repeat bound beyond 2**31)")
    return arr.astype(np.int32), root


def _kinds() -> tuple:
    """What the native emitter (grammar/native/ir_program.h) needs to read the IR."""
    return (Lit, Cls, Seq, Alt, Rep, Regex, parse_regex, class_code)


def native_program(expr: RegularExpr) -> tuple[np.ndarray, int]:
    """`program` written in C++ (the twin the parity tests compare)."""
    try:
        return native._native.ir_program(expr, _kinds())
    except (TypeError, ValueError) as e:
        raise GrammarError(str(e)) from None


def add_native(nfa: Any, expr: RegularExpr, src: int) -> int:
    """`nfa.add(expr, src)` for a `ByteNfa`, with the program written and the states and edges
    made in C++ (the edge columns of such an NFA are int32 arrays); returns the end state."""
    check("building the NFA")
    fresh = not len(nfa.e_src) and not len(nfa.p_src)  # then C++ groups the edges by source too
    try:
        out = native._native.build_nfa_ir(expr, _kinds(), src, nfa.num_states, MAX_NFA_STATES, fresh)
    except (TypeError, ValueError) as e:
        raise GrammarError(str(e)) from None
    if out is None:
        raise GrammarError(f"grammar too large (over {MAX_NFA_STATES} NFA states)")
    end, nfa.num_states, dead = out[:3]
    nfa.dead_ends |= dead
    for name, new in zip(COLUMNS, out[3:9]):
        old = getattr(nfa, name)
        setattr(nfa, name, np.concatenate([old, new]) if len(old) else new)
    if out[9] is not None:
        nfa.arrays = (nfa.stamp, out[9])
    return end
