"""A deterministic in-memory engine behind the real NativeBackend logic (unit tests).

Tokens are characters (ids = ord). The "model" answers a gen with ``responder(prompt,
params)`` and scores token t after context c with a fixed pseudo-random logprob, so the
select path can be checked against a brute-force computation."""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterator

from sglike.backend.native import NativeBackend
from sglike.chat_template import ChatTemplate, get_chat_template


def fake_logprob(context: list[int], token: int) -> float:
    """A deterministic pseudo-logprob of ``token`` after ``context``."""
    h = (sum(context[-3:]) * 31 + token * 17 + len(context)) % 97
    return -0.05 - h / 20.0


def default_responder(prompt: str, params: dict[str, Any]) -> str:
    if params.get("regex"):
        return {r"(True|False)": "True"}.get(params["regex"], "42")
    return "hello world. more text\nnext line"


class FakeBackend(NativeBackend):
    cumulative_stream = False

    def __init__(self, responder: Callable[[str, dict], str] = default_responder,
                 template: ChatTemplate | None = None, fail_on: str | None = None) -> None:
        self.responder = responder
        self._template = template or get_chat_template("chatml")
        self.fail_on = fail_on
        self.calls: list[list[dict[str, Any]]] = []
        self.cached: list[str] = []
        self._lock = threading.Lock()

    @property
    def chat_template(self) -> ChatTemplate:
        return self._template

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def _answer(self, item: dict[str, Any]) -> dict[str, Any]:
        ids = item.get("input_ids") or self.tokenize(item["text"])
        prompt = "".join(chr(i) for i in ids)
        if self.fail_on and self.fail_on in prompt:
            return {"text": "", "output_ids": [], "meta_info": {"finish_reason": {"type": "abort", "message": "boom"}}}
        params = item["sampling_params"]
        max_new = params.get("max_new_tokens", 128)
        text = self.responder(prompt, params)[:max_new] if max_new else ""
        reason: dict[str, Any] = {"type": "length" if max_new and len(text) == max_new else "stop", "matched": None}
        for stop in params.get("stop") or []:
            if stop in text:
                text = text[: text.index(stop)]
                reason = {"type": "stop", "matched": stop}
        meta: dict[str, Any] = {"id": "x", "finish_reason": reason, "prompt_tokens": len(ids),
                                "completion_tokens": len(text), "cached_tokens": 0}
        if item.get("return_logprob"):
            start = max(int(item.get("logprob_start_len", -1)), 0) if item.get("logprob_start_len", -1) != -1 else len(ids)
            meta["input_token_logprobs"] = [
                [None if p == 0 else fake_logprob(ids[:p], ids[p]), ids[p], None] for p in range(start, len(ids))]
            meta["output_token_logprobs"] = [[-0.5, ord(c), None] for c in text]
        return {"text": text, "output_ids": [ord(c) for c in text], "meta_info": meta}

    def _call(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self._lock:
            self.calls.append(items)
        return [self._answer(it) for it in items]

    def _stream(self, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
        out = self._answer(item)
        for c in out["text"]:
            yield {"text": c, "meta_info": {}}
        yield {"text": "", "meta_info": out["meta_info"], "output_ids": out["output_ids"]}

    def cache_prefix(self, prefix: str) -> None:
        self.cached.append(prefix)


def brute_force_scores(prompt: str, choice: str) -> list[float]:
    """Logprobs of the choice's own tokens, computed directly from fake_logprob."""
    ids = [ord(c) for c in prompt + choice]
    start = len(prompt) if choice else len(ids) - 1
    return [0.0 if p == 0 else fake_logprob(ids[:p], ids[p]) for p in range(start, len(ids))]


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)

