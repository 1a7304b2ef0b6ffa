"""The one background thread that precomputes grammar masks (DFA masks, CFG mask parts),
with a bounded queue.

Jobs hold their grammar weakly (a grammar dropped before its turn is skipped), and when
MAX_PENDING jobs already wait, a new one is not queued: its grammar stays lazy, so a burst
of new grammars never piles up work (or delays interpreter exit)."""
from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ..worker_threads import single_threaded_torch

MAX_PENDING = 8
REUSED_AT = 2  # a grammar's precompute is queued when its 2nd matcher is made: it pays
# only for grammars that serve several requests (one-off schemas never spend it)

_lock = threading.Lock()
_pool: list[ThreadPoolExecutor] = []
_pending = [0]


def submit_weak(owner: Any, job: Callable[[Any], None], skipped: Callable[[Any], None]) -> None:
    """Run `job(owner)` on the worker if `owner` is still alive then; `skipped(owner)` now
    when the queue is full."""
    with _lock:
        if _pending[0] >= MAX_PENDING:
            full = True
        else:
            full = False
            _pending[0] += 1
            if not _pool:
                _pool.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="grammar-masks",
                                                initializer=single_threaded_torch))
            pool = _pool[0]
    if full:
        skipped(owner)
        return
    ref = weakref.ref(owner)

    def run() -> None:
        try:
            target = ref()
            if target is not None:
                job(target)
        finally:
            with _lock:
                _pending[0] -= 1
    pool.submit(run)
