"""RadixCache: unit tests plus a randomized twin test against a brute-force reference.

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
from sglike.runtime.mem.prefix_cache import NoPrefixCache
from sglike.runtime.mem.radix_cache import RadixCache


def _t(*xs: int) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.int64)


def _make(size: int = 32) -> tuple[SlotAllocator, RadixCache]:
    alloc = SlotAllocator(size)
    return alloc, RadixCache(alloc)


# -- unit tests ------------------------------------------------------------------------------


def test_match_splits_node_inside_edge():
    alloc, cache = _make()
    slots = alloc.alloc(4)
    assert cache.insert([1, 2, 3, 4], slots) == 0
    m = cache.match_prefix([1, 2, 9])
    assert m.slots.tolist() == slots[:2].tolist()
    assert m.handle.key == [1, 2]
    upper = cache.root.children[1]
    assert upper is m.handle and list(upper.children) == [3] and upper.children[3].key == [3, 4]
    assert cache.match_prefix([1, 2, 3, 4, 5]).slots.tolist() == slots.tolist()
    assert cache.cached_size() == 4 and cache.evictable_size() == 4


def test_insert_splits_on_divergence_and_reports_cached_len():
    alloc, cache = _make()
    a, b = alloc.alloc(3), alloc.alloc(4)
    assert cache.insert([1, 2, 3], a) == 0
    assert cache.insert([1, 2, 4, 5], b) == 2
    alloc.free(b[:2])  # the caller's duplicates
    assert cache.match_prefix([1, 2, 4, 5]).slots.tolist() == a[:2].tolist() + b[2:].tolist()
    assert cache.cached_size() == 5
    assert cache.insert([1, 2], alloc.alloc(2)) == 2  # fully cached already
    assert cache.insert([], torch.empty(0, dtype=torch.int64)) == 0


def test_empty_match_and_none_handle():
    alloc, cache = _make()
    m = cache.match_prefix([5, 6])
    assert m.handle is None and m.slots.numel() == 0 and m.slots.dtype == torch.int64
    cache.lock(None)
    cache.unlock(None)
    cache.lock(cache.root)
    cache.unlock(cache.root)
    assert cache.match_prefix([]).handle is None
    with pytest.raises(ValueError):
        cache.insert([1, 2], _t(1))


def test_lock_counts_propagate_and_split_keeps_lock():
    alloc, cache = _make()
    cache.insert([1, 2, 3, 4], alloc.alloc(4))
    h = cache.match_prefix([1, 2, 3, 4]).handle
    cache.lock(h)
    assert (cache.evictable_size(), cache.protected_size()) == (0, 4)
    cache.match_prefix([1, 2])  # splits the locked node
    assert cache.root.children[1].lock_ref == 1 and h.lock_ref == 1
    cache.insert([1, 2, 7], alloc.alloc(3))  # new unlocked leaf under a locked node
    assert (cache.evictable_size(), cache.protected_size()) == (1, 4)
    assert cache.evict(100) == 1
    cache.unlock(h)
    assert (cache.evictable_size(), cache.protected_size()) == (4, 0)
    with pytest.raises(RuntimeError):
        cache.unlock(h)


def test_evict_is_lru_and_parents_become_evictable():
    alloc, cache = _make(16)
    a, b, c = alloc.alloc(2), alloc.alloc(2), alloc.alloc(2)
    cache.insert([1, 1], a)
    cache.insert([2, 2], b)
    cache.insert([3, 3], c)
    cache.match_prefix([1, 1])  # a is now the most recent; b the least
    assert cache.evict(1) == 2
    assert cache.match_prefix([2, 2]).handle is None
    assert cache.match_prefix([1, 1]).slots.tolist() == a.tolist()
    # shared parent: [5,6] -> {[7], [8]}; evicting everything frees the parent too
    cache.flush()
    cache.insert([5, 6, 7], alloc.alloc(3))
    d = alloc.alloc(3)
    cache.insert([5, 6, 8], d)
    alloc.free(d[:2])
    assert cache.evict(100) == 4 and cache.cached_size() == 0
    assert alloc.available_size() == 16


def test_flush_refuses_locked_and_frees_all():
    alloc, cache = _make(8)
    cache.insert([1, 2, 3], alloc.alloc(3))
    h = cache.match_prefix([1, 2]).handle
    cache.lock(h)
    with pytest.raises(RuntimeError):
        cache.flush()
    assert cache.cached_size() == 3
    cache.unlock(h)
    cache.flush()
    assert cache.cached_size() == 0 and alloc.available_size() == 8
    assert alloc.free_slots().tolist() == list(range(1, 9))


def test_cache_finished_frees_duplicates():
    alloc, cache = _make(16)
    s1 = alloc.alloc(3)
    KVCacheManager(cache).cache_finished([1, 2, 3], s1, 0, None)
    # a request that started before the first finished computed the same prefix itself
    s2 = alloc.alloc(4)
    KVCacheManager(cache).cache_finished([1, 2, 3, 4], s2, 0, None)
    assert cache.cached_size() == 4
    assert alloc.available_size() == 16 - 4
    assert cache.match_prefix([1, 2, 3, 4]).slots.tolist() == s1.tolist() + s2[3:].tolist()
    # a request that matched [1,2], locked it, and finished with its own tail
    m = cache.match_prefix([1, 2, 9])
    cache.lock(m.handle)
    own = alloc.alloc(2)
    KVCacheManager(cache).cache_finished([1, 2, 9, 9], torch.cat([m.slots, own]), 2, m.handle)
    assert cache.protected_size() == 0 and cache.cached_size() == 6
    assert alloc.available_size() + cache.cached_size() == 16


def test_cache_unfinished_returns_locked_cache_slots():
    alloc, cache = _make(16)
    cache.insert([1, 2, 3], alloc.alloc(3))
    m = cache.match_prefix([1, 2, 5, 6])
    cache.lock(m.handle)
    slots = torch.cat([m.slots, alloc.alloc(2)])
    new_slots, h, owned_from = KVCacheManager(cache).cache_unfinished([1, 2, 5, 6], slots, 2, m.handle)
    assert new_slots.tolist() == slots.tolist() and owned_from == 4
    assert cache.protected_size() == 4 and m.handle.lock_ref == 1 and h.lock_ref == 1
    # a duplicate chunk (same tokens computed twice) is freed and replaced by cache slots
    dup = alloc.alloc(4)
    new2, h2, _ = KVCacheManager(cache).cache_unfinished([1, 2, 5, 6], dup, 0, None)
    assert new2.tolist() == slots.tolist() and h2 is h and h.lock_ref == 2
    cache.unlock(h)
    KVCacheManager(cache).cache_finished([1, 2, 5, 6], new2, 4, h2)
    assert cache.protected_size() == 0
    assert alloc.available_size() + cache.cached_size() == 16


def test_no_prefix_cache_still_frees_everything():
    alloc = SlotAllocator(8)
    cache = NoPrefixCache(alloc)
    s = alloc.alloc(5)
    m = cache.match_prefix([1, 2])
    KVCacheManager(cache).cache_finished([1, 2, 3, 4, 5], s, 0, m.handle)
    assert alloc.available_size() == 8 and cache.cached_size() == 0


# -- randomized twin test ----------------------------------------------------------------------


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
