"""Kernel-test fixtures: random slot tables shaped like the radix cache's sharing, and
random KV pools for the Triton kernels (on CUDA when present, else on CPU under
``TRITON_INTERPRET=1``, set here before any kernel module is imported)."""
from __future__ import annotations

import os
import random

import pytest
import torch

from sglike.kernels.attention.cascade import MIN_PREFIX

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # the kernels run on CPU tensors, in numpy

TRITON_DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


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


def random_pool(rows: list[list[int]], num_kv_heads: int, head_dim: int, dtype: torch.dtype, seed: int = 0):
    """(k_buf, v_buf [Hk, slots, D], req_to_token [1 + len(rows), ctx], req_rows [B]) on
    TRITON_DEVICE: request i's positions live at slots rows[i] in table row i + 1 (row 0
    stays unused, as a free row would)."""
    gen = torch.Generator().manual_seed(seed)
    num_slots = max(max(r) for r in rows) + 1
    shape = (num_kv_heads, num_slots, head_dim)
    k_buf, v_buf = torch.randn(shape, generator=gen).to(dtype), torch.randn(shape, generator=gen).to(dtype)
    table = torch.zeros((len(rows) + 1, max(len(r) for r in rows) + 3), dtype=torch.int64)
    for i, r in enumerate(rows):
        table[i + 1, : len(r)] = torch.tensor(r)
    req_rows = torch.arange(1, len(rows) + 1)
    return tuple(x.to(TRITON_DEVICE) for x in (k_buf, v_buf, table, req_rows))


def distinct_rows(lens: list[int], seed: int = 0) -> list[list[int]]:
    """Rows of distinct random slots (no sharing), one per length, from 1 up."""
    perm = (torch.randperm(sum(lens), generator=torch.Generator().manual_seed(seed)) + 1).tolist()
    out, at = [], 0
    for n in lens:
        out.append(perm[at : at + n])
        at += n
    return out


@pytest.fixture
def pools():
    """``pools.random_pool`` / ``pools.distinct_rows`` / ``pools.device`` (see above)."""
    return _Pools()


class _Pools:
    random_pool = staticmethod(random_pool)
    distinct_rows = staticmethod(distinct_rows)
    device = TRITON_DEVICE
