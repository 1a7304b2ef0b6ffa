"""Property-based fuzz of the OpenAPI schema (schemathesis): no input gives a 5xx, and every
error has OpenAI's shape.

- ``test_no_server_errors``: the app with the real frontend (tokenizer, request validation)
  and a fake scheduler, so many examples take seconds.
- ``test_no_server_errors_real``: the real server on loopback (engine process, default
  model, grammar compiler), valid-by-schema requests only, a fixed set of examples. The
  served model name is filled in so requests get past the 404, and generation is kept
  cheap: token and sample counts are capped, and a missing max-tokens field is set to the
  cap instead of the 128 default.
"""
from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode

from sglike.runtime.config import EngineConfig
from sglike.runtime.server.app import ServerState, create_app
from sglike.runtime.server.launch import ServerOptions

from . import fakes
from .harness import ServerThread, free_port

_CAPS = {"max_tokens": 32, "max_completion_tokens": 32, "max_new_tokens": 32, "n": 3, "top_logprobs_num": 5}
_REAL_CAPS = {"max_tokens": 2, "max_completion_tokens": 2, "max_new_tokens": 2, "min_tokens": 2,
              "min_new_tokens": 2, "n": 2, "top_logprobs_num": 3, "logprobs": 3, "top_logprobs": 3}
_OPENAI_GENERATE = ("/v1/chat/completions", "/v1/completions")
_OPENAPI = create_app(ServerState(tm=None, model_name="m", model_path="m")).openapi()  # type: ignore[arg-type]
schema = schemathesis.openapi.from_dict(_OPENAPI)
# the real server skips the coverage phase (hundreds of boundary cases, nearly all refused by
# the request validation that the stand-in run already covers with the same frontend)
real_schema = schemathesis.openapi.from_dict(_OPENAPI)
real_schema.config.phases.update(phases=["examples", "fuzzing"])
real_schema.config.generation.update(modes=[GenerationMode.POSITIVE])


@pytest.fixture(scope="module")
def fake_server():
    options = ServerOptions(port=free_port(), scheduler_factory=fakes.FakeScheduler)
    srv = ServerThread(EngineConfig(max_queued_requests=64), options).start()
    yield srv
    srv.stop()


def _clamp(value: Any, caps: dict[str, int]) -> Any:
    """Keep generated requests cheap: cap token counts and sample counts (``117.0`` counts
    as an integer to the server too), recursively."""
    if isinstance(value, dict):
        return {k: (min(v, caps[k]) if k in caps and isinstance(v, (int, float)) and not isinstance(v, bool)
                    else _clamp(v, caps)) for k, v in value.items()}
    if isinstance(value, list):
        return [_clamp(v, caps) for v in value]
    return value


def _steer(path: str, body: Any) -> None:
    """Name the served model (unknown names only reach the 404 check) and set the length
    field a request left out (its default would be 16 or 128 tokens)."""
    if not isinstance(body, dict):
        return
    if isinstance(body.get("model"), str):
        body["model"] = "default"
    if path in _OPENAI_GENERATE and body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_tokens"] = _REAL_CAPS["max_tokens"]
    if path == "/generate":
        params = body.get("sampling_params")
        for p in params if isinstance(params, list) else [params]:
            if isinstance(p, dict) and p.get("max_new_tokens") is None:
                p["max_new_tokens"] = _REAL_CAPS["max_new_tokens"]
        if params is None:
            body["sampling_params"] = {"max_new_tokens": _REAL_CAPS["max_new_tokens"]}


def _check(case, response) -> None:
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
    content_type = response.headers.get("content-type") or [""]
    if response.status_code >= 400 and content_type[0].startswith("application/json"):
        error = response.json()["error"]
        assert error["message"] and "type" in error


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fake_server):
    if isinstance(case.body, (dict, list)):
        case.body = _clamp(case.body, _CAPS)
    _check(case, case.call(base_url=fake_server.url, timeout=60))


@pytest.mark.slow
@real_schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          phases=[Phase.explicit, Phase.generate])  # fixed examples, no shrinking: bounded time
def test_no_server_errors_real(case, real_server):
    if isinstance(case.body, (dict, list)):
        case.body = _clamp(case.body, _REAL_CAPS)
        _steer(case.path, case.body)
    _check(case, case.call(base_url=real_server.url, headers=real_server.headers, timeout=120))
