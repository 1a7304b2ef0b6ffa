"""Threads of grammar work run torch on one thread.

A torch op large enough to run in parallel (a mask over a 49k vocabulary) gives the thread
that starts it its own OpenMP team. Beside the forward's team that makes more OpenMP threads
than cores, and libgomp then stops spinning between parallel regions: every region of every
later forward waits on wake-ups (measured on 2 cores: plain decode 274 tok/s before one
constrained request, ~100 after). Grammar threads set their own OpenMP thread count (a
per-thread setting, and the count threads started later take) to 1 before any work.
"""
from __future__ import annotations

import torch


def single_threaded_torch() -> None:
    """``ThreadPoolExecutor(initializer=...)`` for grammar worker threads."""
    torch.set_num_threads(1)
