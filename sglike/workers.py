"""The shared worker pool that runs ``run(stream=True)`` programs in the background."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None

MAX_BACKGROUND_PROGRAMS = 32


def background_pool() -> ThreadPoolExecutor:
    """One lazily created pool per process (threads are reused, not one per program)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=MAX_BACKGROUND_PROGRAMS, thread_name_prefix="sglike-stream")
        return _pool
