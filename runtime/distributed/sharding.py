"""Which slice of each weight a rank holds, and which tensor-parallel sizes a model allows.

Attention heads split evenly; KV heads split when ``tp_size`` divides them and are
replicated otherwise (each rank keeps the one KV head its query heads read, which needs
``tp_size`` to be a multiple of the KV head count). The MLP's intermediate dimension splits
evenly; the vocabulary splits in ``ceil(vocab / tp_size)`` rows per rank (the last rank's
tail is zero padding, cut off after the gather).
"""
from __future__ import annotations

from typing import Any


def tp_size_problem(num_heads: int, num_kv_heads: int, intermediate: int, tp_size: int) -> str | None:
    """Why ``tp_size`` cannot split this shape, or None."""
    if num_heads % tp_size:
        return f"{num_heads} attention heads do not divide by tp_size {tp_size}"
    if num_kv_heads % tp_size and tp_size % num_kv_heads:
        return f"{num_kv_heads} KV heads neither divide by tp_size {tp_size} nor divide it (replication)"
    if intermediate % tp_size:
        return f"intermediate size {intermediate} does not divide by tp_size {tp_size}"
    return None


def valid_tp_sizes(num_heads: int, num_kv_heads: int, intermediate: int) -> list[int]:
    return [n for n in range(1, num_heads + 1) if tp_size_problem(num_heads, num_kv_heads, intermediate, n) is None]


def check_tp_size(cfg: Any, tp_size: int) -> None:
    """ValueError naming the valid sizes when ``cfg`` (a ModelConfig) cannot split ``tp_size`` ways."""
    problem = tp_size_problem(cfg.num_heads, cfg.num_kv_heads, cfg.intermediate_size, tp_size)
    if problem is not None:
        sizes = ", ".join(map(str, valid_tp_sizes(cfg.num_heads, cfg.num_kv_heads, cfg.intermediate_size)))
        raise ValueError(f"tp_size {tp_size} cannot split this model: {problem}; valid tp sizes: {sizes}")


def even_split(total: int, rank: int, size: int) -> tuple[int, int]:
    """(start, count) of rank's equal part of ``total``."""
    part = total // size
    return rank * part, part


def kv_heads(num_kv_heads: int, rank: int, size: int) -> tuple[int, int]:
    """(first KV head, count) a rank holds; replicated (count 1) when size > num_kv_heads."""
    if size <= num_kv_heads:
        return even_split(num_kv_heads, rank, size)
    return rank * num_kv_heads // size, 1


def vocab_rows(vocab: int, rank: int, size: int) -> tuple[int, int, int]:
    """(start, rows loaded, rows held) of rank's vocabulary slice; held - loaded is padding."""
    per = -(-vocab // size)
    start = min(rank * per, vocab)
    return start, min(per, vocab - start), per
