"""RadixAttention prefix cache: a radix tree over token ids whose nodes hold KV slots.

Each edge carries a run of token ids (``key``) and the KV slots holding their K/V
(``value``, int64, same length). A root-to-node path spells a cached prefix. Requests lock
the node their prefix ends at; the lock count propagates to the root, so every ancestor of
a locked node is locked too. Unlocked leaves are evicted least recently used first.

Invariants (checked by tests/runtime/test_radix_cache.py against a brute-force twin):
- ``evictable_size() + protected_size() == cached_size()``;
- a node's ``last_access`` is never newer than its parent's (every walk starts at the root);
- the tree holds each slot once, and every slot it drops goes back to the allocator once.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Any

import torch

from .allocator import SlotAllocator
from .prefix_cache import PrefixCache, PrefixMatch
from ..tree_walk import leaves


class TreeNode:
    """One edge of the radix tree (the root has an empty key)."""

    _ids = itertools.count()

    def __init__(self, key: list[int], value: torch.Tensor, parent: TreeNode | None, tick: int) -> None:
        self.key = key  # token ids on the edge into this node
        self.value = value  # [len(key)] int64 KV slots of those tokens
        self.parent = parent
        self.children: dict[int, TreeNode] = {}  # first token of the child's key -> child
        self.lock_ref = 0
        self.last_access = tick
        self.id = next(TreeNode._ids)  # heap tie-break

    def __len__(self) -> int:
        return len(self.key)

    def __repr__(self) -> str:
        return f"TreeNode(id={self.id}, len={len(self.key)}, lock={self.lock_ref}, t={self.last_access})"


def _common_len(a: list[int], b: list[int], b_from: int) -> int:
    """Length of the common prefix of ``a`` and ``b[b_from:]``."""
    n = min(len(a), len(b) - b_from)
    i = 0
    while i < n and a[i] == b[b_from + i]:
        i += 1
    return i


class RadixCache(PrefixCache):
    """Token-level radix tree prefix cache with lock counts and LRU leaf eviction."""

    def __init__(self, allocator: SlotAllocator) -> None:
        super().__init__(allocator)
        self._tick = 0
        self.root = self._new_root()
        self._evictable = 0  # slots in nodes with lock_ref == 0
        self._protected = 0  # slots in nodes with lock_ref > 0

    # -- queries ---------------------------------------------------------------------------

    def match_prefix(self, tokens: list[int]) -> PrefixMatch:
        """Longest cached prefix of ``tokens``. Splits the last node when the match ends
        inside its edge, so the handle spells exactly the matched prefix."""
        tick = self._next_tick()
        node, pos, parts = self.root, 0, []
        node.last_access = tick
        while pos < len(tokens):
            child = node.children.get(tokens[pos])
            if child is None:
                break
            n = _common_len(child.key, tokens, pos)
            if n < len(child):
                child = self._split(child, n)
            child.last_access = tick
            parts.append(child.value)
            node, pos = child, pos + n
        if not parts:
            return PrefixMatch(torch.empty(0, dtype=torch.int64, device=self.allocator.device), None)
        return PrefixMatch(torch.cat(parts), node)  # a copy: callers may write into it

    def evictable_size(self) -> int:
        return self._evictable

    def protected_size(self) -> int:
        """Slots in locked nodes (held by running requests)."""
        return self._protected

    def cached_size(self) -> int:
        return self._evictable + self._protected

    # -- updates ---------------------------------------------------------------------------

    def insert(self, tokens: list[int], slots: torch.Tensor) -> int:
        """Insert ``tokens -> slots``; return the length of the prefix that was already
        cached (those ``slots`` stay with the caller, the rest now belong to the cache)."""
        if len(tokens) != slots.numel():
            raise ValueError(f"insert: {len(tokens)} tokens but {slots.numel()} slots")
        tick = self._next_tick()
        node, pos = self.root, 0
        node.last_access = tick
        while pos < len(tokens):
            child = node.children.get(tokens[pos])
            if child is None:
                leaf = TreeNode(list(tokens[pos:]), slots[pos:].to(torch.int64).clone(), node, tick)
                node.children[tokens[pos]] = leaf
                self._evictable += len(leaf)
                break
            n = _common_len(child.key, tokens, pos)
            if n < len(child):
                child = self._split(child, n)
            child.last_access = tick
            node, pos = child, pos + n
        return pos

    def lock(self, handle: Any) -> None:
        """Pin the prefix ending at ``handle`` (and so all its ancestors)."""
        node = handle
        while node is not None and node is not self.root:
            if node.lock_ref == 0:
                self._evictable -= len(node)
                self._protected += len(node)
            node.lock_ref += 1
            node = node.parent

    def unlock(self, handle: Any) -> None:
        """Undo one ``lock(handle)``."""
        node = handle
        while node is not None and node is not self.root:
            if node.lock_ref <= 0:
                raise RuntimeError(f"unlock of an unlocked node {node!r}")
            node.lock_ref -= 1
            if node.lock_ref == 0:
                self._evictable += len(node)
                self._protected -= len(node)
            node = node.parent

    def evict(self, num_tokens: int) -> int:
        """Free unlocked leaves, least recently used first, until ``num_tokens`` slots are
        freed or nothing unlocked is left; return the number freed."""
        if num_tokens <= 0:
            return 0
        heap = [(n.last_access, n.id, n) for n in leaves(self.root) if n.lock_ref == 0]
        heapq.heapify(heap)
        freed = 0
        while freed < num_tokens and heap:
            _, _, node = heapq.heappop(heap)
            self.allocator.free(node.value)
            freed += len(node)
            self._evictable -= len(node)
            parent = node.parent
            assert parent is not None
            del parent.children[node.key[0]]
            if parent is not self.root and not parent.children and parent.lock_ref == 0:
                heapq.heappush(heap, (parent.last_access, parent.id, parent))
        return freed

    def flush(self) -> None:
        """Free every cached slot and empty the tree. Raises if a request still holds a lock."""
        if self._protected:
            raise RuntimeError(f"flush with {self._protected} locked slots (requests still running)")
        stack = list(self.root.children.values())
        while stack:
            node = stack.pop()
            self.allocator.free(node.value)
            stack.extend(node.children.values())
        self.root = self._new_root()
        self._evictable = 0

    # -- internals -------------------------------------------------------------------------

    def _next_tick(self) -> int:
        self._tick += 1
        return self._tick

    def _new_root(self) -> TreeNode:
        root = TreeNode([], torch.empty(0, dtype=torch.int64, device=self.allocator.device), None, self._tick)
        root.lock_ref = 1  # never evicted
        return root

    def _split(self, child: TreeNode, n: int) -> TreeNode:
        """Cut ``child``'s edge after ``n`` tokens; return the new upper node. ``child`` keeps
        the tail (and its identity, so handles to it stay valid)."""
        parent = child.parent
        assert parent is not None and 0 < n < len(child)
        upper = TreeNode(child.key[:n], child.value[:n], parent, child.last_access)
        upper.lock_ref = child.lock_ref  # every lock through child passes through upper
        upper.children[child.key[n]] = child
        parent.children[child.key[0]] = upper
        child.key, child.value, child.parent = child.key[n:], child.value[n:], upper
        return upper

    def __repr__(self) -> str:
        return f"RadixCache(cached={self.cached_size()}, evictable={self._evictable}, protected={self._protected})"
