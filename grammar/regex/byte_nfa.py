"""Thompson NFA over bytes for the regular IR (ir.py); UTF-8 paths share their suffixes."""
from __future__ import annotations

from functools import lru_cache

from ..budget import check
from ..errors import GrammarError
from . import charset as cs
from .ir import Alt, Cls, Lit, Regex, RegularExpr, Rep, Seq
from .parse import parse_regex

MAX_NFA_STATES = 600_000  # ~10 us a state: a larger NFA would not be built within the compile budget

Edge = tuple[int, int, int]  # (lo byte, hi byte, target state)


class ByteNfa:
    """Byte-range edges and epsilon edges; states are ints, created by `new()`."""

    def __init__(self) -> None:
        self.edges: list[list[Edge]] = []
        self.eps: list[list[int]] = []
        self._utf8: dict[cs.Ranges, list[tuple[tuple[int, int], ...]]] = {}
        # Every state `add` creates lies on a path from its src to its end, except after an
        # empty class or alternation (a dead end): only then must a DFA trim the NFA.
        self.dead_ends = False

    def new(self) -> int:
        if len(self.edges) >= MAX_NFA_STATES:
            raise GrammarError(f"grammar too large (over {MAX_NFA_STATES} NFA states)")
        self.edges.append([])
        self.eps.append([])
        return len(self.edges) - 1

    def add(self, expr: RegularExpr, src: int) -> int:
        """Add `expr` starting at state `src`; return its end state (GrammarError when the
        NFA would exceed MAX_NFA_STATES, checked up front for the whole expression)."""
        check_size(expr, len(self.edges))
        return self._add(expr, src)

    def _add(self, expr: RegularExpr, src: int) -> int:
        check("building the NFA")
        if isinstance(expr, Lit):
            for b in expr.data:
                dst = self.new()
                self.edges[src].append((b, b, dst))
                src = dst
            return src
        if isinstance(expr, Cls):
            return self._add_ranges(expr.ranges, src)
        if isinstance(expr, Seq):
            for item in expr.items:
                src = self._add(item, src)
            return src
        if isinstance(expr, Alt):
            self.dead_ends |= not expr.items
            end = self.new()
            for item in expr.items:
                start = self.new()
                self.eps[src].append(start)
                self.eps[self._add(item, start)].append(end)
            return end
        if isinstance(expr, Rep):
            return self._add_rep(expr, src)
        if isinstance(expr, Regex):
            return self._add(parse_regex(expr.pattern), src)
        raise GrammarError(f"not a regular expression: {expr!r}")

    def _add_ranges(self, ranges: cs.Ranges, src: int) -> int:
        """One character of `ranges`: byte paths from `src`, sequences with equal tails
        sharing their states (so a class adds a handful of states, not one per path)."""
        key = tuple(ranges)
        seqs = self._utf8.get(key)
        if seqs is None:
            rs = cs.intersect(cs.normalize(list(ranges)), cs.ANY)
            seqs = self._utf8[key] = [q for lo, hi in rs for q in cs.utf8_sequences(lo, hi)]
        self.dead_ends |= not seqs
        end = self.new()
        tails: dict[tuple, int] = {(): end}

        def tail(rest: tuple) -> int:
            node = tails.get(rest)
            if node is None:
                node = self.new()
                self.edges[node].append((rest[0][0], rest[0][1], tail(rest[1:])))
                tails[rest] = node
            return node

        for seq in seqs:
            self.edges[src].append((seq[0][0], seq[0][1], tail(seq[1:])))
        return end

    def _add_rep(self, rep: Rep, src: int) -> int:
        for _ in range(rep.lo):
            src = self._add(rep.item, src)
        if rep.hi is None:
            loop = self.new()
            self.eps[src].append(loop)
            self.eps[self._add(rep.item, loop)].append(loop)
            return loop
        end = self.new()
        for _ in range(rep.hi - rep.lo):
            self.eps[src].append(end)
            src = self._add(rep.item, src)
        self.eps[src].append(end)
        return end


def check_size(expr: RegularExpr, existing: int = 0) -> None:
    """GrammarError when adding `expr` to an NFA of `existing` states would pass
    MAX_NFA_STATES (by an upper-bound estimate: cheap, no state is built)."""
    size = _size(expr)
    if existing + size > MAX_NFA_STATES:
        raise GrammarError(f"grammar too large (about {size} NFA states, over "
                           f"{MAX_NFA_STATES}; long bounded repeats multiply)")


@lru_cache(maxsize=4096)
def _size(expr: RegularExpr) -> int:
    """An upper-bound estimate of the NFA states `ByteNfa.add` creates for `expr`."""
    if isinstance(expr, Lit):
        return len(expr.data)
    if isinstance(expr, Cls):  # the end state plus shared UTF-8 tails (about one per range)
        return 1 + sum(len(chr(min(hi, cs.MAX_CP)).encode("utf-8", "surrogatepass")) - 1
                       for _lo, hi in expr.ranges)
    if isinstance(expr, (Seq, Alt)):
        return 2 * len(expr.items) + sum(_size(i) for i in expr.items)
    if isinstance(expr, Rep):
        return 2 + _size(expr.item) * max(expr.lo + 1, expr.hi or 0)
    if isinstance(expr, Regex):
        return _size(parse_regex(expr.pattern))
    return 1
