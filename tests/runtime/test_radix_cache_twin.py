"""RadixCache: a randomized twin test against a brute-force reference.

The reference keeps every cached prefix (a token tuple) -> the KV slot of its last token,
and an LRU time per prefix. Matching is a naive longest-prefix scan. Slot accounting is
checked after every step: allocator free + cache-held + caller-held == every slot, disjoint.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from sglike.runtime.mem.allocator import SlotAllocator
from sglike.runtime.mem.cache_manager import KVCacheManager
from sglike.runtime.mem.radix_cache import RadixCache


@dataclass(eq=False)
class Req:
    tokens: list[int]
    slots: torch.Tensor  # [len(tokens)] slots[:owned_from] come from the cache
    owned_from: int
    handle: Any
    locked_len: int  # tokens[:locked_len] are locked in the cache


class Twin:
    """Drives a RadixCache and the brute-force reference side by side."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.size = self.rng.choice([12, 24, 48])
        self.alloc = SlotAllocator(self.size)
        self.cache = RadixCache(self.alloc)
        self.kv = KVCacheManager(self.cache)
        self.ref: dict[tuple[int, ...], int] = {}  # cached prefix -> slot of its last token
        self.ts: dict[tuple[int, ...], int] = {}  # cached prefix -> reference LRU time
        self.clock = 0
        self.reqs: list[Req] = []
        self.log: list[str] = []

    # reference helpers
    def ref_match(self, tokens: list[int]) -> list[int]:
        out: list[int] = []
        for i in range(len(tokens)):
            slot = self.ref.get(tuple(tokens[: i + 1]))
            if slot is None:
                break
            out.append(slot)
        return out

    def touch(self, tokens: list[int], k: int) -> None:
        for i in range(1, k + 1):
            self.ts[tuple(tokens[:i])] = self.clock

    def ref_insert(self, tokens: list[int], slots: torch.Tensor) -> int:
        already = len(self.ref_match(tokens))
        for i in range(already, len(tokens)):
            self.ref[tuple(tokens[: i + 1])] = int(slots[i])
        self.touch(tokens, len(tokens))
        return already

    def locked(self) -> set[tuple[int, ...]]:
        return {tuple(r.tokens[:i]) for r in self.reqs for i in range(1, r.locked_len + 1)}

    def tokens(self, lo: int = 0) -> list[int]:
        return [self.rng.randrange(3) for _ in range(self.rng.randint(lo, 8))]

    # operations
    def evict(self, n: int) -> int:
        before_free = set(self.alloc.free_slots().tolist())
        evictable, locked = self.cache.evictable_size(), self.locked()
        freed = self.cache.evict(n)
        newly = set(self.alloc.free_slots().tolist()) - before_free
        assert freed == len(newly) and freed <= evictable
        assert freed >= min(n, evictable) if n > 0 else freed == 0
        gone = [p for p, s in self.ref.items() if s in newly]
        assert len(gone) == freed
        assert not (set(gone) & locked), "evicted a locked prefix"
        for p in gone:
            del self.ref[p]
        assert all(p[:-1] in self.ref for p in self.ref if len(p) > 1), "not prefix-closed"
        leaves = [p for p in self.ref if p not in locked and not any(p + (t,) in self.ref for t in range(3))]
        if gone and leaves:
            assert max(self.ts[p] for p in gone) <= min(self.ts[p] for p in leaves), "not LRU"
        for p in gone:
            del self.ts[p]
        return freed

    def alloc_slots(self, n: int) -> torch.Tensor | None:
        out = self.alloc.alloc(n)
        if out is None:
            self.evict(n - self.alloc.available_size())
            out = self.alloc.alloc(n)
        return out

    def op_start(self) -> None:
        tokens = self.tokens(1)
        self.clock += 1
        m = self.cache.match_prefix(tokens)
        expect = self.ref_match(tokens)
        assert m.slots.tolist() == expect
        self.touch(tokens, len(expect))
        self.cache.lock(m.handle)
        req = Req(tokens, m.slots, len(expect), m.handle, len(expect))
        self.reqs.append(req)
        own = self.alloc_slots(len(tokens) - len(expect))
        if own is None:  # out of memory: give up the request
            self.reqs.remove(req)
            self.cache.unlock(m.handle)
            return
        req.slots = torch.cat([m.slots, own])

    def op_extend(self, req: Req) -> None:
        extra = self.tokens(1)
        own = self.alloc_slots(len(extra))
        if own is not None:
            req.tokens, req.slots = req.tokens + extra, torch.cat([req.slots, own])

    def op_cache_unfinished(self, req: Req) -> None:
        self.clock += 1
        already = len(self.ref_match(req.tokens))
        dups = req.slots[req.owned_from : max(already, req.owned_from)].tolist()
        self.ref_insert(req.tokens, req.slots)
        free_before = self.alloc.available_size()
        slots, handle, owned_from = self.kv.cache_unfinished(req.tokens, req.slots, req.owned_from, req.handle)
        assert owned_from == len(req.tokens)
        assert self.alloc.available_size() - free_before == len(dups)
        assert slots.tolist() == self.ref_match(req.tokens)
        req.slots, req.handle, req.owned_from, req.locked_len = slots, handle, len(req.tokens), len(req.tokens)

    def op_finish(self, req: Req) -> None:
        self.clock += 1
        self.ref_insert(req.tokens, req.slots)
        self.reqs.remove(req)
        self.kv.cache_finished(req.tokens, req.slots, req.owned_from, req.handle)

    def op_insert(self) -> None:
        tokens = self.tokens()
        slots = self.alloc_slots(len(tokens))
        if slots is None:
            return
        self.clock += 1
        expect = self.ref_insert(tokens, slots)
        assert self.cache.insert(tokens, slots) == expect
        self.alloc.free(slots[:expect])

    def op_match(self) -> None:
        tokens = self.tokens()
        self.clock += 1
        m = self.cache.match_prefix(tokens)
        expect = self.ref_match(tokens)
        assert m.slots.tolist() == expect and (m.handle is None) == (not expect)
        self.touch(tokens, len(expect))

    def op_flush(self) -> None:
        if any(r.locked_len for r in self.reqs):
            with pytest.raises(RuntimeError):
                self.cache.flush()
            return
        self.cache.flush()
        self.ref.clear()
        self.ts.clear()

    def step(self) -> None:
        r = self.rng.random()
        req = self.rng.choice(self.reqs) if self.reqs else None
        if req is None or r < 0.2:
            name, fn = "start", self.op_start
        elif r < 0.3:
            name, fn = "extend", lambda: self.op_extend(req)
        elif r < 0.4:
            name, fn = "unfinished", lambda: self.op_cache_unfinished(req)
        elif r < 0.55:
            name, fn = "finish", lambda: self.op_finish(req)
        elif r < 0.7:
            name, fn = "insert", self.op_insert
        elif r < 0.85:
            name, fn = "match", self.op_match
        elif r < 0.97:
            n = self.rng.randint(0, 10)
            name, fn = f"evict({n})", lambda: self.evict(n)
        else:
            name, fn = "flush", self.op_flush
        self.log.append(name)
        fn()
        self.check()

    def check(self) -> None:
        free = self.alloc.free_slots().tolist()
        cached = list(self.ref.values())
        caller = [s for r in self.reqs for s in r.slots[r.owned_from :].tolist()]
        everything = free + cached + caller
        assert len(everything) == self.size, "slot leak or double free"
        assert sorted(everything) == list(range(1, self.size + 1)), "slot in two places"
        locked = self.locked()
        assert self.cache.cached_size() == len(self.ref)
        assert self.cache.protected_size() == len(locked)
        assert self.cache.evictable_size() == len(self.ref) - len(locked)
        for r in self.reqs:  # locked prefixes are still cached, with the request's slots
            assert self.ref_match(r.tokens)[: r.locked_len] == r.slots[: r.locked_len].tolist()


@pytest.mark.parametrize("seed", range(150))
def test_randomized_against_reference(seed: int):
    twin = Twin(seed)
    try:
        for _ in range(80):
            twin.step()
        while twin.reqs:  # drain: everything ends up in the cache or free
            twin.op_finish(twin.reqs[0])
            twin.check()
        assert twin.cache.protected_size() == 0
        twin.op_flush()
        twin.check()
        assert twin.alloc.available_size() == twin.size
    except AssertionError as e:
        raise AssertionError(f"seed={seed} ops={twin.log}") from e
