"""``sglike.OpenAI``: any OpenAI-compatible endpoint, through the official client.

What this backend cannot do (the API does not expose it):

- ``select()`` / ``gen(choices=...)``: the API returns no prompt logprobs, so choices
  cannot be scored. It raises :class:`UnsupportedFeature`, unless you pass
  ``select_by_regex=True`` (servers with a ``regex`` extension, e.g. ``sglike serve``),
  which *generates* one of the choices under a regex constraint instead of scoring them.
- ``regex``, ``ebnf``, ``dtype=``, ``top_k``, ``min_p``, ``repetition_penalty``,
  ``min_tokens``, ``ignore_eos``, ``stop_token_ids`` are sent as ``extra_body`` fields:
  honoured by sglike/SGLang/vLLM servers, rejected by api.openai.com.
- Chat models generate only inside ``assistant(...)`` and only at the start of the
  message (no continuing a partly written assistant message); text outside a role goes
  to the completions API. ``json_schema`` uses ``response_format`` on chat models.
- No prefix cache control (``run_batch`` precaching is a no-op) and no batching: the
  branches of a fork are sent concurrently instead.
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Sequence

from ..chat_template import ChatTemplate, resolve_chat_template
from ..choices import ChoicesDecision
from .base import Backend, BackendError, GenRequest, GenResult, SelectRequest, UnsupportedFeature

_STANDARD = {"max_new_tokens": "max_tokens", "stop": "stop", "temperature": "temperature", "top_p": "top_p",
             "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty", "seed": "seed", "n": "n"}
_EXTRA = {"top_k", "min_p", "repetition_penalty", "min_new_tokens", "ignore_eos", "stop_token_ids", "regex", "ebnf",
          "json_whitespace", "json_key_order"}


class OpenAI(Backend):
    """``OpenAI(model, base_url=None, api_key=None, is_chat_model=True)``."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, *,
                 is_chat_model: bool = True, chat_template: str | ChatTemplate | None = None,
                 select_by_regex: bool = False, client: Any = None) -> None:
        if client is None:
            import openai

            client = openai.OpenAI(base_url=base_url, api_key=api_key or "EMPTY")
        self.client = client
        self.model = model
        self.is_chat_model = is_chat_model
        self.select_by_regex = select_by_regex
        self._chat_template = resolve_chat_template(chat_template, None)

    @property
    def chat_template(self) -> ChatTemplate:
        return self._chat_template

    def _kwargs(self, req: GenRequest, chat: bool) -> dict[str, Any]:
        params = req.sampling_params
        kwargs: dict[str, Any] = {"model": self.model}
        extra: dict[str, Any] = {}
        for key, value in params.items():
            if key in _STANDARD:
                kwargs[_STANDARD[key]] = value
            elif key in _EXTRA:
                extra["min_tokens" if key == "min_new_tokens" else key] = value
            elif key == "json_schema":
                if chat:
                    kwargs["response_format"] = {"type": "json_schema",
                                                 "json_schema": {"name": "output", "schema": json.loads(value)}}
                else:
                    extra["json_schema"] = value
        if req.return_logprob:
            kwargs["logprobs"] = True if chat else max(1, req.top_logprobs_num or 1)
            if chat and req.top_logprobs_num:
                kwargs["top_logprobs"] = req.top_logprobs_num
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def _use_chat(self, req: GenRequest) -> bool:
        if not self.is_chat_model:
            return False
        if not req.in_assistant_role:
            return False
        if req.partial_assistant:
            raise UnsupportedFeature("OpenAI chat models cannot continue a partly written assistant message; "
                                     "put gen() at the start of the assistant block")
        return True

    def _one(self, req: GenRequest) -> GenResult:
        try:
            if self._use_chat(req):
                resp = self.client.chat.completions.create(messages=req.messages or [], **self._kwargs(req, True))
                texts = [c.message.content or "" for c in resp.choices]
            else:
                resp = self.client.completions.create(prompt=req.prompt, **self._kwargs(req, False))
                texts = [c.text for c in resp.choices]
        except UnsupportedFeature:
            raise
        except Exception as exc:  # noqa: BLE001 - transport/API errors become BackendError
            raise BackendError(f"OpenAI request failed: {exc}") from exc
        first = resp.choices[0]
        usage = getattr(resp, "usage", None)
        meta: dict[str, Any] = {
            "id": resp.id,
            "finish_reason": {"type": "length" if first.finish_reason == "length" else "stop", "matched": None},
            "prompt_tokens": getattr(usage, "prompt_tokens", None),
            "completion_tokens": getattr(usage, "completion_tokens", None),
        }
        if len(texts) > 1:
            meta["n_texts"] = texts
        return GenResult(texts[0], meta)

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        if len(requests) == 1:
            return [self._one(requests[0])]
        with ThreadPoolExecutor(max_workers=min(16, len(requests))) as pool:
            return list(pool.map(self._one, requests))

    def generate_stream(self, request: GenRequest) -> Iterator[str | GenResult]:
        chat = self._use_chat(request)
        kwargs = self._kwargs(request, chat)
        try:
            if chat:
                stream = self.client.chat.completions.create(messages=request.messages or [], stream=True, **kwargs)
            else:
                stream = self.client.completions.create(prompt=request.prompt, stream=True, **kwargs)
            text, reason = "", "stop"
            for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                delta = (choice.delta.content if chat else choice.text) or ""
                reason = choice.finish_reason or reason
                text += delta
                if delta:
                    yield delta
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"OpenAI stream failed: {exc}") from exc
        yield GenResult(text, {"finish_reason": {"type": "length" if reason == "length" else "stop", "matched": None}})

    def select(self, requests: Sequence[SelectRequest]) -> list[ChoicesDecision]:
        if not self.select_by_regex:
            raise UnsupportedFeature("the OpenAI API returns no prompt logprobs, so select() cannot score choices; "
                                     "use Runtime/RuntimeEndpoint, or OpenAI(..., select_by_regex=True) on a server "
                                     "that accepts a regex constraint")
        gens = [GenRequest(r.prompt, {"max_new_tokens": 64, "temperature": 0.0,
                                      "regex": "(" + "|".join(re.escape(c) for c in r.choices) + ")"})
                for r in requests]
        results = self.generate(gens)
        out = []
        for req, res in zip(requests, results):
            if res.text not in req.choices:
                raise BackendError(f"server ignored the regex constraint: got {res.text!r}, choices {list(req.choices)}")
            out.append(ChoicesDecision(res.text, {"method": "regex-constrained generation (not scored)"}))
        return out

    def shutdown(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()
