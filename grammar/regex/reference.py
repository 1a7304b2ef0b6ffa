"""The independent twin of `regex_to_byte_dfa`: the same language through interegular's
character FSM (its own parser and determinizer), expanded to UTF-8 byte paths. The parity
tests compare the two; it is slow on large patterns."""
from __future__ import annotations

import interegular
import numpy as np
from interegular.fsm import anything_else

from ..errors import GrammarError
from . import charset as cs
from .byte_dfa import MAX_STATES, ByteDFA


def regex_to_byte_dfa_reference(pattern: str) -> ByteDFA:
    """Twin of `regex_to_byte_dfa` through interegular (independent parser and determinizer)."""
    try:
        fsm = interegular.parse_pattern(pattern).to_fsm()
    except Exception as e:  # interegular raises several private error types
        raise GrammarError(f"cannot parse regex {pattern[:200]!r}: {e}") from None
    return fsm_to_byte_dfa(fsm)


def _symbol_ranges(fsm) -> dict[int, cs.Ranges]:
    by_symbol: dict[int, list[tuple[int, int]]] = {}
    explicit: list[tuple[int, int]] = []
    other = None
    for ch, sym in fsm.alphabet._symbol_mapping.items():
        if ch is anything_else:
            other = sym
            continue
        cp = ord(ch)
        explicit.append((cp, cp))
        if not 0xD800 <= cp <= 0xDFFF:
            by_symbol.setdefault(sym, []).append((cp, cp))
    out = {s: cs.normalize(r) for s, r in by_symbol.items()}
    if other is not None:
        out[other] = cs.normalize(list(out.get(other, ())) + list(cs.complement(cs.normalize(explicit))))
    return out


def fsm_to_byte_dfa(fsm) -> ByteDFA:
    """Expand character transitions into UTF-8 byte paths and determinize."""
    sym_seqs = {s: [q for lo, hi in rs for q in cs.utf8_sequences(lo, hi)]
                for s, rs in _symbol_ranges(fsm).items()}
    # NFA nodes: ("c", char_state) or ("m", remaining byte ranges, target char state)
    edges: dict[tuple, list[tuple[int, int, tuple]]] = {}

    def node_edges(node: tuple) -> list[tuple[int, int, tuple]]:
        if node in edges:
            return edges[node]
        out: list[tuple[int, int, tuple]] = []
        if node[0] == "c":
            for sym, target in fsm.map.get(node[1], {}).items():
                for seq in sym_seqs.get(sym, ()):
                    nxt = ("c", target) if len(seq) == 1 else ("m", seq[1:], target)
                    out.append((seq[0][0], seq[0][1], nxt))
        else:
            seq, target = node[1], node[2]
            nxt = ("c", target) if len(seq) == 1 else ("m", seq[1:], target)
            out.append((seq[0][0], seq[0][1], nxt))
        edges[node] = out
        return out

    finals = set(fsm.finals)
    start = frozenset([("c", fsm.initial)])
    index = {start: 0}
    order = [start]
    rows: list[list[int]] = []
    while len(rows) < len(order):
        subset = order[len(rows)]
        targets: list[set | None] = [None] * 256
        for node in subset:
            for lo, hi, nxt in node_edges(node):
                for b in range(lo, hi + 1):
                    t = targets[b]
                    if t is None:
                        targets[b] = {nxt}
                    else:
                        t.add(nxt)
        row = [-1] * 256
        for b, t in enumerate(targets):
            if t is not None:
                key = frozenset(t)
                if key not in index:
                    index[key] = len(order)
                    order.append(key)
                    if len(order) > MAX_STATES:
                        raise GrammarError(f"grammar too large (over {MAX_STATES} DFA states)")
                row[b] = index[key]
        rows.append(row)
    accepting = [any(n[0] == "c" and n[1] in finals for n in s) for s in order]
    return _prune(np.array(rows, dtype=np.int64).reshape(-1, 256), np.array(accepting, bool))


def _prune(rows: np.ndarray, accepting: np.ndarray) -> ByteDFA:
    """Drop states that cannot reach an accepting state; renumber; add the dead sink."""
    n = rows.shape[0]
    live = accepting.copy()
    while True:  # backward reachability, vectorized per sweep
        ok = np.concatenate([live, [False]])
        new = live | ok[np.where(rows >= 0, rows, n)].any(axis=1)
        if (new == live).all():
            break
        live = new
    if not live[0]:
        raise GrammarError("the grammar's language is empty (no string satisfies it)")
    keep = np.flatnonzero(live)
    remap = np.full(n + 1, len(keep), dtype=np.int32)  # -1 and dead states -> sink
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    trans = remap[np.where(rows[keep] >= 0, rows[keep], n)]
    trans = np.vstack([trans, np.full((1, 256), len(keep), np.int32)]).astype(np.int32)
    acc = np.concatenate([accepting[keep], [False]])
    return ByteDFA(trans, acc, 0)
