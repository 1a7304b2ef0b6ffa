"""Kernel-test fixtures: random slot tables shaped like the radix cache's sharing."""
from __future__ import annotations

import random

import pytest
import torch

from sglike.kernels.attention.cascade import MIN_PREFIX


def tree_batch(rng: random.Random, num_slots: int, batch: int) -> tuple[torch.Tensor, list[int]]:
    """Slot rows [batch, L] (padded with 0) and lengths for ``batch`` requests that fork from
    each other at random points, like requests whose prefixes the radix cache shares
    (shared tokens -> identical slots). Slots are drawn from 1..num_slots."""
    free = list(range(1, num_slots + 1))
    rng.shuffle(free)
    rows: list[list[int]] = []
    for _ in range(batch):
        if rows and rng.random() < 0.8:
            parent = rng.choice(rows)
            cut = rng.randint(len(parent) // 3, len(parent) - 1)
            row = parent[:cut]
        else:
            row = []
        row = row + [free.pop() for _ in range(rng.randint(1, 3 * MIN_PREFIX))]
        rows.append(row)
    lens = [len(r) for r in rows]
    table = torch.zeros((batch, max(lens)), dtype=torch.int64)
    for i, r in enumerate(rows):
        table[i, : len(r)] = torch.tensor(r)
    return table, lens


@pytest.fixture
def slot_trees():
    """``slot_trees(rng, num_slots, batch) -> (table [batch, L], lens)`` (see tree_batch)."""
    return tree_batch
