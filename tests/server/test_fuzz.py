"""Property-based fuzz of the OpenAPI schema (schemathesis): no input gives a 5xx, and every
error has OpenAI's shape. Runs against the app with the real frontend (tokenizer, request
validation) and a fake scheduler, so ~100 examples take seconds."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from sglike.runtime.config import EngineConfig
from sglike.runtime.server.app import ServerState, create_app
from sglike.runtime.server.launch import ServerOptions

from . import fakes
from .harness import ServerThread, free_port

_CAPS = {"max_tokens": 32, "max_completion_tokens": 32, "max_new_tokens": 32, "n": 3, "top_logprobs_num": 5}
schema = schemathesis.openapi.from_dict(
    create_app(ServerState(tm=None, model_name="m", model_path="m")).openapi())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fake_server():
    options = ServerOptions(port=free_port(), scheduler_factory=f"{fakes.__name__}:FakeScheduler")
    srv = ServerThread(EngineConfig(max_queued_requests=64), options).start()
    yield srv
    srv.stop()


def _clamp(value):
    """Keep generated requests cheap: cap token counts and sample counts, recursively."""
    if isinstance(value, dict):
        return {k: (min(v, _CAPS[k]) if k in _CAPS and isinstance(v, int) and not isinstance(v, bool)
                    else _clamp(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_clamp(v) for v in value]
    return value


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fake_server):
    if isinstance(case.body, (dict, list)):
        case.body = _clamp(case.body)
    response = case.call(base_url=fake_server.url, timeout=60)
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
    content_type = response.headers.get("content-type") or [""]
    if response.status_code >= 400 and content_type[0].startswith("application/json"):
        error = response.json()["error"]
        assert error["message"] and "type" in error
