"""One real Runtime (default model) shared by the whole frontend test session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def runtime():
    """The default model on CPU, loaded once; skipped when the model is not installed."""
    import sglike

    try:
        backend = sglike.Runtime(max_running_requests=64)
    except (FileNotFoundError, ImportError) as exc:  # a checkout without the model
        pytest.skip(f"default model unavailable: {exc}")
    yield backend
    backend.shutdown()
