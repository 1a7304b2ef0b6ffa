"""The tokenizer side of a request, shared by the offline Engine and the HTTP server:
``RequestBuilder`` turns user input into validated ``TokenizedRequest``s, and
``OutputAssembler`` turns a request's ``TokenOutput`` stream into text deltas and the final
``{"text", "output_ids", "meta_info"}`` dict (SGLang's shape)."""
from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from .config import EngineConfig
from .detokenizer import IncrementalDetokenizer
from .io_struct import TokenizedRequest, TokenOutput
from .sampling_params import SamplingParams
from .stop_checker import StopChecker


class RequestBuilder:
    """Validates and tokenizes one prompt; ``n > 1`` expands into n requests.

    ``max_request_tokens`` (prompt + max_new_tokens) and ``context_length`` come from the
    loaded model; requests over them raise ``ValueError`` naming the limit.
    """

    def __init__(self, tokenizer: Any, config: EngineConfig, *, context_length: int | None = None, max_total_tokens: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.config = config
        self.context_length = context_length
        self.max_total_tokens = max_total_tokens

    def build(
        self,
        prompt: str | list[int],
        sampling_params: dict | SamplingParams | None = None,
        *,
        rid: str | None = None,
        return_logprob: bool = False,
        logprob_start_len: int | None = None,
        top_logprobs_num: int | None = None,
        stream: bool = False,
    ) -> list[TokenizedRequest]:
        sp = sampling_params if isinstance(sampling_params, SamplingParams) else SamplingParams.from_dict(sampling_params)
        if isinstance(prompt, str):
            input_ids = self.tokenizer.encode(prompt, add_special_tokens=False)
        elif isinstance(prompt, (list, tuple)) and all(isinstance(t, int) for t in prompt):
            input_ids = list(prompt)
            vocab = len(self.tokenizer)
            bad = [t for t in input_ids if not 0 <= t < vocab]
            if bad:
                raise ValueError(f"input_ids: token id {bad[0]} is outside the vocabulary (0..{vocab - 1})")
        else:
            raise ValueError("text or input_ids: give a string or a list of token ids")
        if not input_ids:
            raise ValueError("text: the prompt is empty")
        self._check_length(len(input_ids), sp.max_new_tokens)
        top = top_logprobs_num or 0
        if top < 0:
            raise ValueError("top_logprobs_num must be >= 0")
        start = -1
        if return_logprob:
            start = len(input_ids) - 1 if logprob_start_len is None or logprob_start_len < 0 else logprob_start_len
            if start >= len(input_ids):
                raise ValueError(f"logprob_start_len ({start}) must be < the prompt length ({len(input_ids)})")
        rid = rid or uuid.uuid4().hex
        out = []
        for i in range(sp.n):
            sub_sp = replace(sp, n=1, seed=None if sp.seed is None else sp.seed + i)
            out.append(
                TokenizedRequest(
                    rid=rid if sp.n == 1 else f"{rid}-{i}",
                    input_ids=input_ids,
                    sampling_params=sub_sp,
                    return_logprob=return_logprob,
                    logprob_start_len=start,
                    top_logprobs_num=top,
                    stream=stream,
                )
            )
        return out

    def _check_length(self, prompt_len: int, max_new: int) -> None:
        limits = [(v, name) for v, name in ((self.context_length, "context length"), (self.max_total_tokens, "KV pool size")) if v]
        for limit, name in limits:
            if prompt_len >= limit:
                raise ValueError(f"text: the prompt has {prompt_len} tokens, more than the model's {name} allows ({limit})")
            if prompt_len + max_new > limit:
                raise ValueError(
                    f"max_new_tokens: prompt ({prompt_len} tokens) + max_new_tokens ({max_new}) exceeds the {name} ({limit})"
                )


def _triples(pairs: list[tuple[float | None, int]]) -> list[list]:
    return [[lp, tok, None] for lp, tok in pairs]


class OutputAssembler:
    """Accumulates one request's outputs; ``add`` returns the text delta safe to show."""

    def __init__(self, tokenizer: Any, req: TokenizedRequest) -> None:
        sp = req.sampling_params
        self.req = req
        self.detok = IncrementalDetokenizer(
            tokenizer, skip_special_tokens=sp.skip_special_tokens, spaces_between_special_tokens=sp.spaces_between_special_tokens
        )
        self.stops = StopChecker(sp.stop)
        self.text = ""
        self.sent = 0
        self.output_ids: list[int] = []
        self.last: TokenOutput | None = None
        self.logprobs: dict[str, list] = {k: [] for k in ("input_token_logprobs", "output_token_logprobs", "input_top_logprobs", "output_top_logprobs")}

    def add(self, out: TokenOutput) -> str:
        self.last = out
        self.output_ids.extend(out.new_token_ids)
        self.text += self.detok.feed(out.new_token_ids)
        if self.req.return_logprob:
            self.logprobs["input_token_logprobs"] += _triples(out.input_token_logprobs)
            self.logprobs["input_top_logprobs"] += [None if t is None else _triples(t) for t in out.input_top_logprobs]
            self.logprobs["output_token_logprobs"] += _triples(out.output_token_logprobs)
            self.logprobs["output_top_logprobs"] += [_triples(t) for t in out.output_top_logprobs]
        if out.finished:
            self.text += self.detok.finish()
            if out.stop_str and not self.req.sampling_params.no_stop_trim:
                cut = self.text.find(out.stop_str)
                if cut >= self.sent:
                    self.text = self.text[:cut]
            visible = len(self.text)
        else:
            visible = len(self.text) - self.stops.holdback(self.text)
        delta = self.text[self.sent : visible] if visible > self.sent else ""
        self.sent = max(self.sent, visible)
        return delta

    def meta_info(self) -> dict[str, Any]:
        out = self.last
        meta: dict[str, Any] = {
            "id": self.req.rid,
            "finish_reason": out.finish_reason.to_json() if out and out.finish_reason else None,
            "prompt_tokens": out.prompt_tokens if out else len(self.req.input_ids),
            "completion_tokens": out.completion_tokens if out else 0,
            "cached_tokens": out.cached_tokens if out else 0,
        }
        if self.req.return_logprob:
            meta.update(self.logprobs)
        return meta

    def result(self) -> dict[str, Any]:
        return {"text": self.text[: self.sent], "output_ids": list(self.output_ids), "meta_info": self.meta_info()}
