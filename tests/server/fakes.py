"""A fake scheduler: exercises the server's plumbing without model forward passes."""
from __future__ import annotations

import time

from sglike.runtime.io_struct import FinishReason, TokenizedRequest, TokenOutput

STEP_S = 0.002  # fake forward time per step


class FakeScheduler:
    """Emits the prompt's tokens back, one per step, until max_new_tokens."""

    def __init__(self, config) -> None:
        self.config = config
        self.running: dict[str, tuple[TokenizedRequest, list[int]]] = {}
        self.aborted: list[str] = []

    def add_request(self, req: TokenizedRequest) -> None:
        if req.sampling_params.regex == "(":
            raise ValueError("sampling_params.regex is invalid: unbalanced parenthesis")
        self.running[req.rid] = (req, [])

    def abort(self, rid: str) -> None:
        self.aborted.append(rid)
        self.running.pop(rid, None)

    def has_work(self) -> bool:
        return bool(self.running)

    def flush_cache(self) -> bool:
        return not self.running

    context_length = 2048
    max_total_tokens = 4096

    def info(self) -> dict:
        used = sum(len(r.input_ids) + len(out) for r, out in self.running.values())
        return {"num_running": len(self.running), "num_waiting": 0, "kv_used_tokens": used,
                "kv_total_tokens": 4096, "cache_hit_rate": 0.0, "num_aborted": len(self.aborted)}

    def step(self) -> list[TokenOutput]:
        time.sleep(STEP_S)
        outs = []
        for rid, (req, out) in list(self.running.items()):
            limit = req.sampling_params.max_new_tokens
            if limit:
                out.append(req.input_ids[len(out) % len(req.input_ids)])
            done = len(out) >= limit
            lps = [(-1.0, out[-1])] if req.return_logprob and limit else []
            tops = [[(-1.0, out[-1])] * req.top_logprobs_num] if req.return_logprob and limit else []
            outs.append(TokenOutput(
                rid=rid, new_token_ids=out[-1:] if limit else [], finished=done,
                finish_reason=FinishReason("length") if done else None,
                prompt_tokens=len(req.input_ids), completion_tokens=len(out), cached_tokens=0,
                output_token_logprobs=lps, output_top_logprobs=tops))
            if done:
                del self.running[rid]
        return outs
