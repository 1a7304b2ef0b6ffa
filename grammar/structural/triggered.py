"""A grammar for ``structural_tag``: free text, and after a trigger one constrained
structure (rest of ``begin``, a JSON value for ``schema``, ``end``), then free text again.

States: ``("free", k)`` (k: Aho-Corasick state over the triggers), ``("begin", t, seen)``
(bytes of a begin after trigger t), ``("end", s, j)`` (j bytes of structure s's end seen),
and ``_Schema`` (a JSON-schema matcher for structure s). The first three are deterministic,
so their token masks are computed once at compile time (off the scheduler loop) by walking
every candidate token's bytes; a token may straddle phases (``>\\n`` completing the trigger
and starting the begin text). In the schema phase the mask is the schema matcher's mask,
plus the start of ``end`` once the JSON value may end; EOS is allowed only in free text.
Inside a compile-time walk the schema matcher is fed one single-byte token at a time.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Union

import numpy as np
import torch

from ..base import CompiledGrammar, GrammarMatcher
from .tag import StructuralTag
from .token_index import TokenIndex

Det = tuple  # ("free", k) | ("begin", t, seen) | ("end", s, j)


@dataclass
class _Schema:
    s: int  # structure index
    m: GrammarMatcher | None = None  # created on first use (most compile-time walks end before)
    fed: bool = False  # whether any byte went into m during a walk


State = Union[Det, _Schema]


@dataclass(frozen=True)
class _Row:
    """A mask row: ``default`` everywhere except at ``flip``."""

    default: bool
    flip: torch.Tensor  # [k] int64 token ids

    def fill(self, out: torch.Tensor) -> None:
        out.fill_(self.default)
        out[self.flip] = not self.default

    def union_into(self, out: torch.Tensor) -> None:
        if self.default:
            keep = out[self.flip]
            out.fill_(True)
            out[self.flip] = keep
        else:
            out[self.flip] = True


def _aho_corasick(words: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Transition table [states, 256] and per-state matched word index (-1: none)."""
    goto: list[dict[int, int]] = [{}]
    out = [-1]
    for w, word in enumerate(words):
        s = 0
        for b in word:
            if b not in goto[s]:
                goto.append({})
                out.append(-1)
                goto[s][b] = len(goto) - 1
            s = goto[s][b]
        out[s] = w
    trans = np.zeros((len(goto), 256), dtype=np.int64)
    fail = [0] * len(goto)
    queue = [0]
    for s in queue:  # breadth first: fail[s] is final before s's children are done
        for b in range(256):
            child = goto[s].get(b)
            if child is None:
                trans[s, b] = trans[fail[s], b] if s else 0
            else:
                fail[child] = trans[fail[s], b] if s else 0
                trans[s, b] = child
                queue.append(child)
    return trans, np.array(out, dtype=np.int64)


class TriggeredGrammar(CompiledGrammar):
    def __init__(self, tag: StructuralTag, schemas: list[CompiledGrammar], index: TokenIndex) -> None:
        self.tag, self.schemas, self.index = tag, schemas, index
        self.triggers = [t.encode() for t in tag.triggers]
        self.ends = [s.end.encode() for s in tag.structures]
        # rest of each begin after its trigger, per trigger: [(structure, rest bytes)]
        self.rests: list[list[tuple[int, bytes]]] = [[] for _ in self.triggers]
        for s, st in enumerate(tag.structures):
            t = tag.trigger_of(st)
            self.rests[t].append((s, st.begin.encode()[len(self.triggers[t]):]))
        self.trans, self.out = _aho_corasick(self.triggers)
        self.eos = torch.tensor(index.eos, dtype=torch.int64)
        self._first: list[set[int]] = [self._first_bytes(s) for s in range(len(schemas))]
        self.rows: dict[Det, _Row] = {}
        for k in range(len(self.trans)):
            if self.out[k] < 0:  # a completed trigger is never a free state
                self.rows[("free", k)] = self._free_row(k)
        for t, rests in enumerate(self.rests):
            for seen in {r[:n] for _, r in rests for n in range(len(r))}:
                self.rows[("begin", t, seen)] = self._literal_row(("begin", t, seen))
        for s, end in enumerate(self.ends):
            for j in range(len(end)):
                self.rows[("end", s, j)] = self._literal_row(("end", s, j))

    # -- CompiledGrammar -------------------------------------------------------------------
    def matcher(self) -> "TriggeredMatcher":
        return TriggeredMatcher(self)

    def accepts(self, text: str) -> bool:
        """Whether ``text`` is free text with only complete structures."""
        state = self.walk(("free", 0), text.encode())
        return isinstance(state, tuple) and state[0] == "free"

    # -- transitions -----------------------------------------------------------------------
    def enter_begin(self, t: int, seen: bytes) -> State | None:
        """State after ``seen`` bytes of a begin following trigger t (None: no such begin)."""
        for s, rest in self.rests[t]:
            if rest == seen:
                return _Schema(s)
        if any(rest.startswith(seen) for _, rest in self.rests[t]):
            return ("begin", t, seen)
        return None

    def enter_end(self, s: int) -> Det:
        return ("end", s, 0) if self.ends[s] else ("free", 0)

    def schema_matcher(self, st: _Schema) -> GrammarMatcher:
        if st.m is None:
            st.m = self.schemas[st.s].matcher()
        return st.m

    def accepting(self, m: GrammarMatcher) -> bool:
        """Whether the JSON value may end here (the matcher would take EOS)."""
        return bool(m.allowed_tokens()[self.eos].any())

    def walk(self, state: State | None, data: bytes, *, filter_first: bool = True) -> State | None:
        """The state after ``data`` (None: not allowed). A schema state is mutated in place."""
        i = 0
        while i < len(data) and state is not None:
            if isinstance(state, _Schema):
                if filter_first and not state.fed and data[i] not in self._first[state.s]:
                    return None
                state.fed = True
                m = self.schema_matcher(state)
                tok = self.index.byte_token[data[i]]
                if tok >= 0 and m.advance(tok):
                    i += 1
                elif self.accepting(m):
                    state = self.enter_end(state.s)
                else:
                    return None
                continue
            kind = state[0]
            if kind == "free":
                k = int(self.trans[state[1], data[i]])
                t = int(self.out[k])
                state = ("free", k) if t < 0 else self.enter_begin(t, b"")
            elif kind == "begin":
                state = self.enter_begin(state[1], state[2] + data[i : i + 1])
            else:
                _, s, j = state
                if self.ends[s][j] != data[i]:
                    return None
                state = ("end", s, j + 1) if j + 1 < len(self.ends[s]) else ("free", 0)
            i += 1
        return state

    # -- compile-time masks ------------------------------------------------------------------
    def _first_bytes(self, s: int) -> set[int]:
        """Bytes that may start structure s's schema part (or its end, for an empty value)."""
        return {b for b in range(256) if self.walk(_Schema(s), bytes([b]), filter_first=False) is not None}

    def _free_row(self, k: int) -> _Row:
        """All tokens, except those completing a trigger and going on with text no begin allows."""
        ids, consumed, trig = self.index.scan(self.trans, self.out, k)
        banned = [int(tok) for tok, n, t in zip(ids.tolist(), consumed.tolist(), trig.tolist())
                  if self.walk(self.enter_begin(t, b""), self.index.token_bytes[tok][n:]) is None]
        return _Row(True, torch.tensor(banned, dtype=torch.int64))

    def _literal_row(self, state: Det) -> _Row:
        if state[0] == "begin":
            lits = [rest[len(state[2]):] for _, rest in self.rests[state[1]] if rest.startswith(state[2])]
        else:
            lits = [self.ends[state[1]][state[2]:]]
        cands = {tok for lit in lits for tok in self.index.prefixes_of(lit) + self.index.extending(lit)}
        ok = [tok for tok in sorted(cands) if self.walk(state, self.index.token_bytes[tok]) is not None]
        return _Row(False, torch.tensor(ok, dtype=torch.int64))


class TriggeredMatcher(GrammarMatcher):
    """Per-request state. Special tokens (EOS too) are allowed in free text and leave it
    unchanged, so the request ends on EOS / stop / length like unconstrained text; they are
    never allowed inside a structure. ``is_finished`` is therefore never true."""

    def __init__(self, g: TriggeredGrammar) -> None:
        self.g = g
        self.state: State = ("free", 0)
        self.history: list[State | None] = []  # previous state per token; None: schema matcher advanced

    def allowed_tokens(self) -> torch.Tensor:
        row = torch.empty(self.g.index.size, dtype=torch.bool)
        self.fill_mask(row)
        return row

    def fill_mask(self, out_row: torch.Tensor) -> None:
        state = self.state
        if isinstance(state, tuple):
            self.g.rows[state].fill(out_row)
            return
        self.g.schema_matcher(state).fill_mask(out_row)
        eos = self.g.eos
        may_end = bool(out_row[eos].any())
        out_row[eos] = False
        if may_end:
            self.g.rows[self.g.enter_end(state.s)].union_into(out_row)

    def advance(self, token_id: int) -> bool:
        g, state = self.g, self.state
        if not 0 <= token_id < g.index.size:
            return False
        if isinstance(state, _Schema):
            m = g.schema_matcher(state)
            if not g.index.is_text(token_id):  # EOS would end the request inside the structure
                return False
            if m.advance(token_id):
                self.history.append(None)
                return True
            if not g.accepting(m):
                return False
            new = g.walk(g.enter_end(state.s), g.index.token_bytes[token_id])
        elif not g.index.is_text(token_id):
            if state[0] != "free":
                return False
            new = state
        else:
            new = g.walk(state, g.index.token_bytes[token_id])
        if new is None:
            return False
        if isinstance(new, _Schema):
            g.schema_matcher(new)
        self.history.append(state)
        self.state = new
        return True

    def is_finished(self) -> bool:
        return False

    def rollback(self, n: int) -> None:
        if n < 0 or n > len(self.history):
            raise ValueError(f"cannot roll back {n} tokens (only {len(self.history)} advanced)")
        for _ in range(n):
            prev = self.history.pop()
            if prev is None:
                self.state.m.rollback(1)  # type: ignore[union-attr]
            else:
                self.state = prev

    def copy(self) -> "TriggeredMatcher":
        copies: dict[int, _Schema] = {}

        def dup(st: State | None) -> State | None:
            if not isinstance(st, _Schema):
                return st
            if id(st) not in copies:
                copies[id(st)] = _Schema(st.s, None if st.m is None else st.m.copy(), st.fed)
            return copies[id(st)]

        m = TriggeredMatcher(self.g)
        m.state = dup(self.state)  # type: ignore[assignment]
        m.history = [dup(h) for h in self.history]
        return m

    def jump_forward_bytes(self) -> bytes:
        state, g = self.state, self.g
        if isinstance(state, _Schema):
            m = g.schema_matcher(state)
            forced = m.jump_forward_bytes()
            return forced or (g.ends[state.s] if m.is_finished() else b"")
        if state[0] == "begin":
            lits = [r[len(state[2]):] for _, r in g.rests[state[1]] if r.startswith(state[2])]
            return os.path.commonprefix(lits)
        if state[0] == "end":
            return g.ends[state[1]][state[2]:]
        return b""
