"""``RequestBuilder``: user input (text or token ids, sampling params) -> validated
``TokenizedRequest``s, shared by the offline Engine and the HTTP server."""
from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from ..config import EngineConfig
from ..io_struct import TokenizedRequest
from ..sampling_params import SamplingParams
from .limits import length_problem


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
        problem = length_problem(len(input_ids), sp.max_new_tokens, context_length=self.context_length,
                                 max_total_tokens=self.max_total_tokens)
        if problem:
            raise ValueError(problem)
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
