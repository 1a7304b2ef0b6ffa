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

import threading

import numpy as np

from .. import native
from ..masks.token_trie import TokenTrie, unique, walk, walk_mask, walk_states
from .earley import EarleySet, Recognizer
from .terminal import WalkView

MAX_CACHE_BYTES = 64 << 20  # per cache; a cache that would outgrow this starts over
DENSE = 1024  # token sets larger than this are kept bit-packed instead of as ids


class TokenSet:
    """Allowed token ids: int32 ids, or a bit-packed mask [ceil(size / 8)] when large."""
    __slots__ = ("ids", "packed")

    def __init__(self, ids: np.ndarray, size: int) -> None:
        self.ids, self.packed = ids.astype(np.int32), None
        if len(ids) > DENSE:
            bits = np.zeros(size, dtype=bool)
            bits[ids] = True
            self.ids, self.packed = None, np.packbits(bits)

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> "TokenSet":
        """The tokens set in a bool mask [size]."""
        out = cls.__new__(cls)
        if np.count_nonzero(mask) > DENSE:
            out.ids, out.packed = None, np.packbits(mask)
        else:
            out.ids, out.packed = np.flatnonzero(mask).astype(np.int32), None
        return out

    @property
    def nbytes(self) -> int:
        return 64 + (self.packed.nbytes if self.ids is None else self.ids.nbytes)


class Accumulator:
    """Union of TokenSets: packed masks OR-ed as bytes, ids set once at the end."""

    def __init__(self) -> None:
        self.packed: np.ndarray | None = None
        self.ids: list[np.ndarray] = []
        self.sets: list[TokenSet] = []  # the first two non-empty sets added (see `only`)

    @property
    def only(self) -> TokenSet | None:
        """The one non-empty set added, when exactly one was (the union is that set)."""
        return self.sets[0] if len(self.sets) == 1 else None

    def add(self, ts: TokenSet) -> None:
        if len(self.sets) < 2 and (ts.ids is None or len(ts.ids)):
            self.sets.append(ts)
        if ts.ids is not None:
            if len(ts.ids):
                self.ids.append(ts.ids)
        elif self.packed is None:
            self.packed = ts.packed.copy()
        else:
            np.bitwise_or(self.packed, ts.packed, out=self.packed)

    def write(self, out: np.ndarray) -> None:
        """Set `out` (bool [size], zeroed) True at every token in the union."""
        if self.packed is not None:
            out[:] = np.unpackbits(self.packed, count=out.size).view(bool)
        for ids in self.ids:
            out[ids] = True


class _Cache(dict):
    """A dict that starts over when its values would exceed MAX_CACHE_BYTES."""

    def __init__(self) -> None:
        super().__init__()
        self.nbytes = 0

    def put(self, key, value: tuple[TokenSet, int]) -> tuple[TokenSet, int]:
        size = value[0].nbytes
        if self.nbytes + size > MAX_CACHE_BYTES:
            self.clear()
            self.nbytes = 0
        self.nbytes += size
        self[key] = value
        return value


class TerminalWalks:
    """Interned trie frontiers and the cached walk of each (terminal, DFA state, frontier)."""

    def __init__(self, rec: Recognizer, trie: TokenTrie) -> None:
        self.trie = trie
        self.terminals = rec.cfg.terminals
        self.dfas: list[WalkView | None] = [None] * len(self.terminals)  # made on first walk
        self.ids: dict[bytes, int] = {}
        self.nodes: list[np.ndarray] = []
        self._lock = threading.Lock()  # the background precompute interns frontiers too
        self.root = self.frontier(np.zeros(1, dtype=np.int64))
        self.cache = _Cache()  # (terminal, state, frontier) -> (tokens, end frontier)

    def frontier(self, nodes: np.ndarray) -> int:
        """Id of a sorted node set (-1 when empty)."""
        if not len(nodes):
            return -1
        key = nodes.tobytes()
        f = self.ids.get(key)
        if f is None:
            with self._lock:
                f = self.ids.get(key)
                if f is None:
                    self.nodes.append(nodes)
                    f = self.ids[key] = len(self.nodes) - 1
        return f

    def get(self, t: int, s: int, f: int) -> tuple[TokenSet, int]:
        """(tokens whose bytes below frontier f stay inside terminal t from state s, frontier
        of the nodes where t may end and a longer token continue)."""
        key = (t, s, f)
        hit = self.cache.get(key)
        if hit is None:
            table = self.dfas[t]
            if table is None:  # the terminal's DFA exists: a chart predicted it
                table = self.dfas[t] = WalkView(self.terminals[t].dfa())
            if native.ENABLED and f == self.root:  # a plain head, dense: tokens set in a mask
                mask, ends = walk_mask(self.trie, table, self.nodes[f], s)
                tokens = TokenSet.from_mask(mask)
            elif native.ENABLED:  # below inner nodes: usually few tokens, no 49k-entry scans
                nodes = self.nodes[f]
                ids, ends = walk_states(self.trie, table, nodes, np.full(len(nodes), s, dtype=np.int64), True)
                tokens = TokenSet(ids, self.trie.size)
            else:
                ids, ends = walk(self.trie, table, self.nodes[f], s)
                tokens = TokenSet(ids, self.trie.size)
            hit = self.cache.put(key, (tokens, self.frontier(ends)))
        return hit


class _Locals:
    """Local results per grammar position: (tokens, pop frontier id or -1)."""

    def __init__(self, rec: Recognizer, walks: TerminalWalks) -> None:
        self.rec, self.walks = rec, walks
        self.bottom = [EarleySet({}, {}, False)]  # virtual position 0: the barrier
        self.scan_cache = _Cache()  # (terminal, state, rule, dot) -> (tokens, pop frontier)
        self.item_cache = _Cache()  # (rule, dot, frontier) -> (tokens, pop frontier)

    def scan(self, t: int, s: int, r: int, d: int) -> tuple[TokenSet, int]:
        """Item (r, d) whose terminal t (just before d) is in DFA state s, from the root."""
        key = (t, s, r, d)
        hit = self.scan_cache.get(key)
        if hit is None:
            es = EarleySet({(t, s): frozenset([(r, d, 0)])}, {}, False)
            hit = self.scan_cache.put(key, self._run(es, self.walks.root))
        return hit

    def item(self, r: int, d: int, f: int) -> tuple[TokenSet, int]:
        """Item (r, d), not inside a terminal, from frontier f."""
        key = (r, d, f)
        hit = self.item_cache.get(key)
        if hit is None:
            es = self.rec.build(self.bottom, 1, {}, [(r, d, 0)], barrier=0)
            hit = self.item_cache.put(key, self._run(es, f))
        return hit

    def _run(self, es: EarleySet, f: int) -> tuple[TokenSet, int]:
        acc = Accumulator()
        pops = {f} if es.popped else set()  # frontier ids where the item's rule completes
        self._expand(self.bottom + [es], f, acc, pops)
        tokens = acc.only  # one walk's set (cached there, never changed): no union to build
        if tokens is None:
            out = np.zeros(self.walks.trie.size, dtype=bool)
            acc.write(out)
            tokens = TokenSet(np.flatnonzero(out), out.size)
        if len(pops) <= 1:  # a frontier is sorted and unique already
            return tokens, next(iter(pops), -1)
        ends = unique(np.concatenate([self.walks.nodes[p] for p in sorted(pops)]))
        return tokens, self.walks.frontier(ends)

    def _expand(self, work: list[EarleySet], f: int, acc: Accumulator, pops: set[int]) -> None:
        for (t, s), items in work[-1].scans.items():
            tokens, ends = self.walks.get(t, s, f)
            acc.add(tokens)
            if ends >= 0:
                es = self.rec.complete_terminal(work, items, barrier=0)
                if es.popped:
                    pops.add(ends)
                work.append(es)
                self._expand(work, ends, acc, pops)
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
        lhs, acc = self.rec.lhs, Accumulator()
        for (t, s), items in chart[-1].scans.items():
            for r, d, o in items:
                tokens, pops = self.locals.scan(t, s, r, d)
                acc.add(tokens)
                if pops >= 0:
                    self._pop(chart, o, lhs[r], pops, acc, seen)
        acc.write(out)

    def _pop(self, chart: list[EarleySet], o: int, nt: int, f: int, acc: Accumulator,
             seen: set[tuple[int, int, int]]) -> None:
        """Nonterminal `nt` begun at chart position `o` completed at the nodes of frontier f."""
        if (o, nt, f) in seen:
            return
        seen.add((o, nt, f))
        for r, d, o2 in chart[o].waiting.get(nt, ()):
            tokens, pops = self.locals.item(r, d + 1, f)
            acc.add(tokens)
            if pops >= 0:
                self._pop(chart, o2, self.rec.lhs[r], pops, acc, seen)


def reference_mask(rec: Recognizer, vocab, chart: list[EarleySet]) -> np.ndarray:
    """Plain twin of `MaskBuilder.fill`: run the recognizer over every token's bytes."""
    out = np.zeros(vocab.size, dtype=bool)
    for i, data in enumerate(vocab.token_bytes):
        if data and i not in vocab.special_ids:
            out[i] = rec.run(chart, data) is not None
    return out

