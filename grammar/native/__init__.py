"""Native (C++) twins of the grammar's hottest loops, built at install time (setup.py):
one-state subset construction (`SubsetBuilder`, twin of `regex.lazy_dfa.LazyDFA._expand`)
and depth-first trie walks (`walk_states`, twin of `masks.token_trie.walk_states`).

Without the extension (no compiler, a non-x86 machine) or with SGLIKE_PY_GRAMMAR=1 set, the
Python twins run; parity tests compare the two.
"""
from __future__ import annotations

import os

try:
    from . import _native  # type: ignore[attr-defined]
except ImportError as exc:  # not built
    _native = None
    IMPORT_ERROR: str | None = str(exc)
else:
    IMPORT_ERROR = None

ENABLED = _native is not None and not os.environ.get("SGLIKE_PY_GRAMMAR")


def available() -> bool:
    """Whether the extension was built and imports."""
    return _native is not None


def with_builder(fn, dfa, *args, **kw):
    """`fn(*args, dfa.walk_arrays(), dfa.walk_refresh[, builder, max_states], **kw)`: a native call
    over a walk table that expands its states in place through the LazyDFA's SubsetBuilder
    when it has one (holding the LazyDFA's lock: another thread may be growing its tables)."""
    b = dfa.walk_builder()
    if b is None:
        return fn(*args, dfa.walk_arrays(), dfa.walk_refresh, **kw)
    builder, lock, max_states = b
    with lock:
        return fn(*args, dfa.walk_arrays(), dfa.walk_refresh, builder, max_states, **kw)
