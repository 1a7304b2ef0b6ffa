"""`gc_paused`: the cyclic garbage collector held off while a grammar compiles.

A compile allocates many container objects (IR nodes, rule trees, subsets, closures). Each
time enough of them survive, CPython's collector runs a full collection, which scans every
tracked object of the process: in a process holding a tokenizer and torch that is several
hundred thousand objects, 0.3-1 s a scan, several scans in one large compile, so most of
its time. Compile garbage is freed by reference counting; the few cycles it leaves (closures)
wait for the first collection after the compile. Reference counted across threads: the
collector resumes when the last compile in progress ends, and only if it was enabled when
the first began (a caller's own `gc.disable()` is kept).
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_resume = False  # whether to re-enable the collector when the depth returns to 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """Within the block (on any thread), no automatic cyclic garbage collection."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
