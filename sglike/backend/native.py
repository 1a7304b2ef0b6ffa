"""Shared logic of the backends that speak our engine's native generate schema
(the in-process :class:`Runtime` and the HTTP :class:`RuntimeEndpoint`)."""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, Iterator, Sequence

from ..choices import ChoicesDecision
from .base import Backend, BackendError, GenRequest, GenResult, SelectRequest, UnsupportedFeature
from .select_scoring import decide, plan_select


def check_finished(out: dict[str, Any]) -> None:
    """Raise BackendError when the engine aborted the request."""
    reason = (out.get("meta_info") or {}).get("finish_reason") or {}
    if isinstance(reason, dict) and reason.get("type") == "abort":
        raise BackendError(f"request aborted by the engine: {reason.get('message') or reason}")


def gen_item(req: GenRequest) -> dict[str, Any]:
    """A native-schema item for one sequence of ``req`` (n is expanded by the caller)."""
    params = {k: v for k, v in req.sampling_params.items() if k != "n"}
    item: dict[str, Any] = {"text": req.prompt, "sampling_params": params}
    if req.return_logprob:
        item["return_logprob"] = True
        item["logprob_start_len"] = req.logprob_start_len if req.logprob_start_len is not None else -1
        item["top_logprobs_num"] = req.top_logprobs_num or 0
    return item


class NativeBackend(Backend):
    """Batches gens and selects into native ``generate`` calls."""

    cumulative_stream: bool = False  # True when stream chunks carry the whole text so far

    @abstractmethod
    def _call(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One batched native generate call; returns one output dict per item."""

    @abstractmethod
    def _stream(self, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """A streamed native generate call for a single item."""

    def tokenize(self, text: str) -> list[int] | None:
        """Token ids of ``text`` as the engine tokenizes it; None when unavailable."""
        return None

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        items, owners = [], []
        for i, req in enumerate(requests):
            for _ in range(int(req.sampling_params.get("n") or 1)):
                items.append(gen_item(req))
                owners.append(i)
        outs = self._call(items) if items else []
        grouped: list[list[dict]] = [[] for _ in requests]
        for i, out in zip(owners, outs):
            check_finished(out)
            grouped[i].append(out)
        results = []
        for group in grouped:
            first = group[0]
            res = GenResult(first["text"], dict(first.get("meta_info") or {}), list(first.get("output_ids") or []))
            if len(group) > 1:
                res.meta_info["n_texts"] = [g["text"] for g in group]
                res.meta_info["n_meta_info"] = [g.get("meta_info") for g in group]
            results.append(res)
        return results

    def generate_stream(self, request: GenRequest) -> Iterator[str | GenResult]:
        if int(request.sampling_params.get("n") or 1) != 1:
            yield from super().generate_stream(request)
            return
        text, last, ids = "", {}, []
        for chunk in self._stream(gen_item(request)):
            check_finished(chunk)
            piece = chunk.get("text", "")
            delta = piece[len(text):] if self.cumulative_stream else piece
            text += delta
            last = chunk
            ids = list(chunk.get("output_ids") or []) if self.cumulative_stream else ids + list(chunk.get("output_ids") or [])
            if delta:
                yield delta
        yield GenResult(text, dict(last.get("meta_info") or {}), ids)

    def select(self, requests: Sequence[SelectRequest]) -> list[ChoicesDecision]:
        plans = []
        for req in requests:
            prefix_ids = self.tokenize(req.prompt)
            if prefix_ids is None:
                raise UnsupportedFeature(f"{type(self).__name__} cannot tokenize, so select() cannot score choices")
            full = [self.tokenize(req.prompt + c) or [] for c in req.choices]
            plans.append(plan_select(prefix_ids, full, req.choices, req.method))
        items = [it.as_native() for plan in plans for it in plan.items]
        outs = self._call(items)
        for out in outs:
            check_finished(out)
        decisions, pos = [], 0
        for plan in plans:
            metas = [o.get("meta_info") or {} for o in outs[pos: pos + len(plan.items)]]
            pos += len(plan.items)
            decision = decide(plan, metas)
            decision.meta_info["prompt_tokens"] = sum(m.get("prompt_tokens") or 0 for m in metas)
            decision.meta_info["cached_tokens"] = sum(m.get("cached_tokens") or 0 for m in metas)
            decisions.append(decision)
        return decisions

    def cache_prefix(self, prefix: str) -> None:
        if prefix:
            self._call([{"text": prefix, "sampling_params": {"max_new_tokens": 0}}])
