"""The router's approximate radix tree against its brute-force twin."""
from __future__ import annotations

import random

import pytest

from sglike.runtime.router.radix_tree import ApproxTree

from .brute_tree import BruteTree


def _random_text(rng: random.Random, stock: list[str]) -> str:
    """Texts that share prefixes often: a stock prefix cut somewhere, plus a random tail."""
    head = rng.choice(stock)[: rng.randint(0, 12)] if stock and rng.random() < 0.8 else ""
    return head + "".join(rng.choice("abc") for _ in range(rng.randint(0, 6)))


@pytest.mark.parametrize("seed", range(20))
def test_insert_and_match_agree_with_the_twin(seed):
    rng = random.Random(seed)
    tree, twin, stock = ApproxTree(), BruteTree(), []
    for _ in range(200):
        text = _random_text(rng, stock)
        if rng.random() < 0.5:
            tree.insert(text)
            twin.insert(text)
            stock.append(text)
        else:
            assert tree.match(text) == twin.match(text), text
        assert tree.size == twin.size
    held = BruteTree()
    for text in tree.texts():
        held.insert(text)
    assert held.size == tree.size  # the leaves' texts are exactly what the tree holds


def test_match_of_a_text_split_inside_an_edge():
    tree = ApproxTree()
    tree.insert("hello world")
    assert tree.match("hello there") == 6
    tree.insert("hello there")
    assert tree.size == len("hello world") + len("there")
    assert sorted(tree.texts()) == ["hello there", "hello world"]
    assert tree.match("hello") == 5 and tree.match("") == 0 and tree.match("xyz") == 0


@pytest.mark.parametrize("seed", range(10))
def test_eviction_keeps_the_bound_drops_oldest_leaves_first(seed):
    rng = random.Random(seed)
    tree, stock, limit = ApproxTree(), [], 40
    for _ in range(150):
        text = _random_text(rng, stock) + "".join(rng.choice("xyz") for _ in range(3))
        tree.insert(text)
        stock.append(text)
        if rng.random() < 0.3:
            tree.match(rng.choice(stock))
        before = {t for t in tree.texts()}
        prefixes_before = {t[:i] for t in before for i in range(1, len(t) + 1)}
        stamps = {t: _leaf_access(tree, t) for t in before}
        evicted = tree.evict(limit)
        assert tree.size <= limit
        twin = BruteTree()
        for t in tree.texts():
            twin.insert(t)
            assert t in prefixes_before  # eviction only removes
        assert twin.size == tree.size
        if evicted:
            # LRU: no leaf that stayed is older than one that went (among the first leaves)
            gone = [stamps[t] for t in evicted if t in stamps]
            kept = [stamps[t] for t in before if t in set(tree.texts())]
            assert not gone or not kept or max(gone) <= min(kept)
    assert tree.match(stock[-1]) == len(stock[-1])  # the newest text fits and stays


def test_eviction_of_one_long_leaf_leaves_its_shared_parent():
    tree = ApproxTree()
    tree.insert("shared-prefix/one")
    tree.insert("shared-prefix/two")
    tree.match("shared-prefix/two")
    assert tree.evict(tree.size - 1) == ["shared-prefix/one"]
    assert tree.texts() == ["shared-prefix/two"]
    tree.evict(0)
    assert tree.size == 0 and tree.texts() == []


def _leaf_access(tree: ApproxTree, text: str) -> int:
    node, pos = tree.root, 0
    while pos < len(text):
        node = node.children[text[pos]]
        pos += len(node.key)
    return node.last_access
