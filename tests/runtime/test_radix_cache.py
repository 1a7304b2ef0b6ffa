"""RadixCache unit tests (the randomized twin test is in test_radix_cache_twin.py)."""
from __future__ import annotations

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
