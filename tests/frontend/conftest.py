"""One real Runtime (default model) shared by the whole frontend test session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def runtime():
    """The default model on CPU, loaded once; skipped when the model is not installed."""
    import sglike

    try:
        # float32: bfloat16 logprobs differ by ~0.1 between cached and uncached prefill,
        # which would blur the exact select-vs-brute-force comparison
        backend = sglike.Runtime(dtype="float32", max_running_requests=64)
    except (FileNotFoundError, ImportError) as exc:  # a checkout without the model
        pytest.skip(f"default model unavailable: {exc}")
    yield backend
    backend.shutdown()
