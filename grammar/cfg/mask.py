"""Token masks for a CFG: context-independent parts cached per grammar position, the parser
stack consulted only where a token completes the rule it started in.

A token is allowed when some Earley item of the last set can consume all its bytes. For one
item (rule r, dot d) the tokens split into those consumed without completing r ("local":
they depend on (r, d) and the terminal's DFA state only, never on the history) and those
that complete r at some trie node ("pops"). The pops continue with the items that wait for
r's left-hand side at r's origin, from the pop nodes as the new frontier, and so on down the
real chart. Local parts are computed once per compiled grammar by `_Locals`: an Earley run in
a virtual chart whose bottom is a barrier, over cached vectorized trie walks (TerminalWalks).
"""
from __future__ import annotations

import numpy as np

from ..token_trie import TokenTrie, WalkTable, unique, walk
from .earley import EarleySet, Recognizer

MAX_CACHED = 200_000
DENSE = 1024  # results allowing more tokens than this keep a bool mask instead of ids


class TokenSet:
    """Token ids, kept as a bool mask [vocab.size] when large; applied by OR into a mask."""
    __slots__ = ("ids", "dense")

    def __init__(self, ids: np.ndarray, size: int) -> None:
        self.ids, self.dense = ids, None
        if len(ids) > DENSE:
            self.dense = np.zeros(size, dtype=bool)  # [size]
            self.dense[ids] = True

    def apply(self, out: np.ndarray) -> None:
        if self.dense is not None:
            np.logical_or(out, self.dense, out=out)
        elif len(self.ids):
            out[self.ids] = True


class TerminalWalks:
    """Interned trie frontiers and the cached walk of each (terminal, DFA state, frontier)."""

    def __init__(self, rec: Recognizer, trie: TokenTrie) -> None:
        self.trie = trie
        self.dfas = [WalkTable(d.table, np.array(d.accept + [False])) for d in rec.cfg.terminals]
        self.ids: dict[bytes, int] = {}
        self.nodes: list[np.ndarray] = []
        self.root = self.frontier(np.zeros(1, dtype=np.int64))
        self.cache: dict[tuple[int, int, int], tuple[TokenSet, int]] = {}

    def frontier(self, nodes: np.ndarray) -> int:
        """Id of a sorted node set (-1 when empty)."""
        if not len(nodes):
            return -1
        key = nodes.tobytes()
        f = self.ids.get(key)
        if f is None:
            f = self.ids[key] = len(self.nodes)
            self.nodes.append(nodes)
        return f

    def get(self, t: int, s: int, f: int) -> tuple[TokenSet, int]:
        """(tokens whose bytes below frontier f stay inside terminal t from state s, frontier
        of the nodes where t may end and a longer token continue)."""
        key = (t, s, f)
        hit = self.cache.get(key)
        if hit is None:
            if len(self.cache) >= MAX_CACHED:
                self.cache.clear()
            ids, ends = walk(self.trie, self.dfas[t], self.nodes[f], s)
            hit = self.cache[key] = (TokenSet(ids, self.trie.size), self.frontier(ends))
        return hit


class _Locals:
    """Local results per grammar position: (tokens, pop frontier id or -1)."""

    def __init__(self, rec: Recognizer, walks: TerminalWalks) -> None:
        self.rec, self.walks = rec, walks
        self.bottom = [EarleySet({}, {}, False)]  # virtual position 0: the barrier
        self.scan_cache: dict[tuple[int, int, int, int], tuple[TokenSet, int]] = {}
        self.item_cache: dict[tuple[int, int, int], tuple[TokenSet, int]] = {}

    def scan(self, t: int, s: int, r: int, d: int) -> tuple[TokenSet, int]:
        """Item (r, d) whose terminal t (just before d) is in DFA state s, from the root."""
        key = (t, s, r, d)
        hit = self.scan_cache.get(key)
        if hit is None:
            if len(self.scan_cache) >= MAX_CACHED:
                self.scan_cache.clear()
            es = EarleySet({(t, s): frozenset([(r, d, 0)])}, {}, False)
            hit = self.scan_cache[key] = self._run(es, self.walks.root)
        return hit

    def item(self, r: int, d: int, f: int) -> tuple[TokenSet, int]:
        """Item (r, d), not inside a terminal, from frontier f."""
        key = (r, d, f)
        hit = self.item_cache.get(key)
        if hit is None:
            if len(self.item_cache) >= MAX_CACHED:
                self.item_cache.clear()
            es = self.rec.build(self.bottom, 1, {}, [(r, d, 0)], barrier=0)
            hit = self.item_cache[key] = self._run(es, f)
        return hit

    def _run(self, es: EarleySet, f: int) -> tuple[TokenSet, int]:
        out = np.zeros(self.walks.trie.size, dtype=bool)
        pops = [self.walks.nodes[f]] if es.popped else []
        self._expand(self.bottom + [es], f, out, pops)
        ends = unique(np.concatenate(pops)) if pops else np.zeros(0, dtype=np.int64)
        return TokenSet(np.flatnonzero(out), out.size), self.walks.frontier(ends)

    def _expand(self, work: list[EarleySet], f: int, out: np.ndarray, pops: list) -> None:
        for (t, s), items in work[-1].scans.items():
            tokens, ends = self.walks.get(t, s, f)
            tokens.apply(out)
            if ends >= 0:
                es = self.rec.complete_terminal(work, items, barrier=0)
                if es.popped:
                    pops.append(self.walks.nodes[ends])
                work.append(es)
                self._expand(work, ends, out, pops)
                work.pop()


class MaskBuilder:
    """Per compiled grammar: fills token masks from Earley charts using the cached parts."""

    def __init__(self, rec: Recognizer, trie: TokenTrie) -> None:
        self.rec = rec
        self.walks = TerminalWalks(rec, trie)
        self.locals = _Locals(rec, self.walks)

    def fill(self, chart: list[EarleySet], out: np.ndarray) -> None:
        """Set `out` (bool [vocab.size], zeroed) True for the tokens allowed after `chart`
        (EOS is left to the caller)."""
        seen: set[tuple[int, int, int]] = set()
        lhs = self.rec.lhs
        for (t, s), items in chart[-1].scans.items():
            for r, d, o in items:
                tokens, pops = self.locals.scan(t, s, r, d)
                tokens.apply(out)
                if pops >= 0:
                    self._pop(chart, o, lhs[r], pops, out, seen)

    def _pop(self, chart: list[EarleySet], o: int, nt: int, f: int, out: np.ndarray,
             seen: set[tuple[int, int, int]]) -> None:
        """Nonterminal `nt` begun at chart position `o` completed at the nodes of frontier f."""
        if (o, nt, f) in seen:
            return
        seen.add((o, nt, f))
        for r, d, o2 in chart[o].waiting.get(nt, ()):
            tokens, pops = self.locals.item(r, d + 1, f)
            tokens.apply(out)
            if pops >= 0:
                self._pop(chart, o2, self.rec.lhs[r], pops, out, seen)


def reference_mask(rec: Recognizer, vocab, chart: list[EarleySet]) -> np.ndarray:
    """Plain twin of `MaskBuilder.fill`: run the recognizer over every token's bytes."""
    out = np.zeros(vocab.size, dtype=bool)
    for i, data in enumerate(vocab.token_bytes):
        if data and i not in vocab.special_ids:
            out[i] = rec.run(chart, data) is not None
    return out

