"""``sglike.Runtime``: the runtime ``Engine`` in this process (imported lazily)."""
from __future__ import annotations

from typing import Any, Iterator

from ..chat_template import ChatTemplate, resolve_chat_template, tokenizer_renderer
from .native import NativeBackend


def _batch_kwargs(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Native items -> Engine.generate keyword arguments (lists, one entry per item)."""
    kwargs: dict[str, Any] = {
        "sampling_params": [it["sampling_params"] for it in items],
        "return_logprob": [bool(it.get("return_logprob")) for it in items],
        "logprob_start_len": [it.get("logprob_start_len", -1) for it in items],
        "top_logprobs_num": [int(it.get("top_logprobs_num") or 0) for it in items],
    }
    if all("input_ids" in it for it in items):
        kwargs["prompt"], kwargs["input_ids"] = None, [it["input_ids"] for it in items]
    elif all("text" in it for it in items):
        kwargs["prompt"] = [it["text"] for it in items]
    else:
        raise ValueError("a batch must be all text or all input_ids")
    return kwargs


class Runtime(NativeBackend):
    """Runs programs on an in-process :class:`sglike.runtime.Engine`.

    ``Runtime(model_path=None, **engine_options)`` starts an engine with SGLang's option
    names (dtype, device, max_total_tokens, disable_radix_cache, ...); ``engine=`` reuses
    an existing one; ``chat_template=`` overrides the template derived from the tokenizer.
    """

    cumulative_stream = False

    def __init__(self, model_path: str | None = None, *, engine: Any = None,
                 chat_template: str | ChatTemplate | None = None, **engine_options: Any) -> None:
        if engine is None:
            from sglike.runtime import Engine  # lazy: `import sglike` must not import torch

            engine = Engine(model_path, **engine_options)
        self.engine = engine
        self.tokenizer = engine.tokenizer
        render = tokenizer_renderer(self.tokenizer) if getattr(self.tokenizer, "chat_template", None) else None
        self._chat_template = resolve_chat_template(chat_template, render)

    @property
    def chat_template(self) -> ChatTemplate:
        return self._chat_template

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text))

    def _call(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = self.engine.generate(**_batch_kwargs(items))
        return out if isinstance(out, list) else [out]

    def _stream(self, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self.engine.generate(
            prompt=item["text"], sampling_params=item["sampling_params"], stream=True,
            return_logprob=bool(item.get("return_logprob")),
            logprob_start_len=item.get("logprob_start_len", -1),
            top_logprobs_num=int(item.get("top_logprobs_num") or 0))

    def shutdown(self) -> None:
        self.engine.shutdown()
