"""The router's approximate radix tree: which text one worker has probably cached.

Character level (no tokenizer in the router), as sglang-router's. Edges hold strings; a
node's ``last_access`` is a logical clock bumped on every insert or match that passes
through it, so a parent is never older than its children and evicting the oldest leaf
first is LRU. ``size`` counts the characters held (every distinct non-empty prefix once).
The plain twin is ``tests/runtime/router/brute_tree.py``.
"""
from __future__ import annotations

import heapq
import itertools

from ..tree_walk import leaves


class _Node:
    __slots__ = ("key", "children", "parent", "last_access")

    def __init__(self, key: str, parent: "_Node | None", last_access: int) -> None:
        self.key = key  # the edge label from the parent
        self.children: dict[str, _Node] = {}  # first character of the child's key -> child
        self.parent = parent
        self.last_access = last_access


def _common_len(a: str, a_start: int, b: str) -> int:
    """Length of the common prefix of ``a[a_start:]`` and ``b``."""
    if a.startswith(b, a_start):
        return len(b)
    n = min(len(a) - a_start, len(b))
    i = 0
    while i < n and a[a_start + i] == b[i]:
        i += 1
    return i


class ApproxTree:
    def __init__(self) -> None:
        self._clock = itertools.count(1)
        self.root = _Node("", None, 0)
        self.size = 0  # characters held

    def insert(self, text: str) -> None:
        now = next(self._clock)
        node, pos = self.root, 0
        node.last_access = now
        while pos < len(text):
            child = node.children.get(text[pos])
            if child is None:
                node.children[text[pos]] = _Node(text[pos:], node, now)
                self.size += len(text) - pos
                return
            n = _common_len(text, pos, child.key)
            if n < len(child.key):
                child = self._split(child, n)
            child.last_access = now
            node, pos = child, pos + n

    def match(self, text: str) -> int:
        """Length of the longest prefix of ``text`` held; touches the nodes it passes."""
        now = next(self._clock)
        node, pos = self.root, 0
        while pos < len(text):
            child = node.children.get(text[pos])
            if child is None:
                break
            n = _common_len(text, pos, child.key)
            child.last_access = now
            pos += n
            if n < len(child.key):
                break
            node = child
        return pos

    def evict(self, max_size: int) -> list[str]:
        """Drop least recently used leaves until ``size <= max_size``; returns their full texts."""
        if self.size <= max_size:
            return []
        heap = [(leaf.last_access, id(leaf), leaf) for leaf in leaves(self.root)]
        heapq.heapify(heap)
        evicted = []
        while self.size > max_size and heap:
            _, _, leaf = heapq.heappop(heap)
            evicted.append(self._text_of(leaf))
            parent = leaf.parent
            del parent.children[leaf.key[0]]
            self.size -= len(leaf.key)
            if parent is not self.root and not parent.children:
                heapq.heappush(heap, (parent.last_access, id(parent), parent))
        return evicted

    def clear(self) -> None:
        self.root.children.clear()
        self.size = 0

    def texts(self) -> list[str]:
        """The full text of every leaf (the tree holds exactly their prefixes)."""
        return [self._text_of(leaf) for leaf in leaves(self.root)]

    def _split(self, child: _Node, n: int) -> _Node:
        """Cut ``child``'s edge after ``n`` characters; returns the new middle node."""
        parent = child.parent
        mid = _Node(child.key[:n], parent, child.last_access)
        parent.children[mid.key[0]] = mid
        child.key = child.key[n:]
        child.parent = mid
        mid.children[child.key[0]] = child
        return mid

    @staticmethod
    def _text_of(node: _Node) -> str:
        parts = []
        while node.parent is not None:
            parts.append(node.key)
            node = node.parent
        return "".join(reversed(parts))
