"""A request's state inside the scheduler."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import torch

from ..io_struct import FinishReason, TokenizedRequest
from ..sampling_params import SamplingParams


class ReqState(Enum):
    WAITING = "waiting"
    RUNNING = "running"  # has a table row and KV (prefilling or decoding)
    FINISHED = "finished"


@dataclass(eq=False)
class Req:
    rid: str
    origin_input_ids: list[int]
    sp: SamplingParams
    return_logprob: bool = False
    logprob_start_len: int = -1
    top_logprobs_num: int = 0
    arrival: int = 0  # admission order, for fcfs and retraction
    output_ids: list[int] = field(default_factory=list)
    state: ReqState = ReqState.WAITING
    # KV memory: table row, and how many leading tokens of all_ids have KV in the pool
    row: int | None = None
    kv_len: int = 0
    cache_handle: Any = None
    owned_from: int = 0  # slots [0, owned_from) of the row belong to the prefix cache
    cached_tokens: int = 0  # prompt tokens reused from the prefix cache (reported)
    decoding: bool = False  # prefill of all_ids done; next forward feeds the newest token
    retractions: int = 0
    jump_forward_tokens: int = 0  # output tokens appended by jump-forward
    finish_reason: FinishReason | None = None
    reported_len: int = 0  # output tokens already sent out
    generator: torch.Generator | None = None
    grammar: Any = None  # a GrammarMatcher, when constrained
    grammar_pending: Any = None  # a Future of the compiled grammar
    # logprobs not yet reported
    out_logprobs: list[tuple[float, int]] = field(default_factory=list)
    out_top_logprobs: list[list[tuple[float, int]]] = field(default_factory=list)
    in_logprobs: list[tuple[float | None, int]] = field(default_factory=list)
    in_top_logprobs: list[list[tuple[float, int]] | None] = field(default_factory=list)

    @classmethod
    def from_tokenized(cls, treq: TokenizedRequest, arrival: int) -> "Req":
        req = cls(
            rid=treq.rid,
            origin_input_ids=list(treq.input_ids),
            sp=treq.sampling_params,
            return_logprob=treq.return_logprob,
            logprob_start_len=treq.logprob_start_len,
            top_logprobs_num=treq.top_logprobs_num,
            arrival=arrival,
        )
        if treq.sampling_params.seed is not None:
            req.generator = torch.Generator().manual_seed(treq.sampling_params.seed)
        return req

    @property
    def all_ids(self) -> list[int]:
        return self.origin_input_ids + self.output_ids

    @property
    def wants_prompt_logprobs(self) -> bool:
        return self.return_logprob and self.logprob_start_len >= 0

    def max_prefix_match(self) -> int:
        """How many leading tokens may come from the cache: never the last input token
        (its logits are needed) nor prompt positions whose logprobs were asked for."""
        limit = len(self.all_ids) - 1
        if self.wants_prompt_logprobs and not self.output_ids:
            limit = min(limit, max(self.logprob_start_len - 1, 0))
        return max(limit, 0)

    def remaining_new_tokens(self) -> int:
        return max(self.sp.max_new_tokens - len(self.output_ids), 0)

    @property
    def last_token(self) -> int:
        return self.output_ids[-1] if self.output_ids else self.origin_input_ids[-1]
