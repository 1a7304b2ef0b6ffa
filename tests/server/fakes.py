"""A fake scheduler and frontend: exercise the server's plumbing without the model."""
from __future__ import annotations

import time

from sglike.runtime.io_struct import FinishReason, TokenizedRequest, TokenOutput
from sglike.runtime.sampling_params import SamplingParams

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

    def stats(self) -> dict:
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


class FakeBuilder:
    def __init__(self, tokenizer, config) -> None:
        self.tokenizer = tokenizer

    def build(self, prompt, params, *, rid=None, return_logprob=False, logprob_start_len=-1,
              top_logprobs_num=0, stream=False) -> list[TokenizedRequest]:
        sp = SamplingParams.from_dict(params)
        ids = self.tokenizer.encode(prompt, add_special_tokens=False) if isinstance(prompt, str) else list(prompt)
        if not ids:
            raise ValueError("prompt must not be empty")
        base = rid or f"fake-{time.perf_counter_ns()}"
        return [TokenizedRequest(rid=base if sp.n == 1 else f"{base}-{i}", input_ids=ids, sampling_params=sp,
                                 return_logprob=return_logprob, logprob_start_len=logprob_start_len,
                                 top_logprobs_num=top_logprobs_num, stream=stream) for i in range(sp.n)]


class FakeAssembler:
    def __init__(self, tokenizer, req: TokenizedRequest) -> None:
        self.tokenizer, self.req = tokenizer, req
        self.ids: list[int] = []
        self.text = ""
        self.last: TokenOutput | None = None

    def add(self, out: TokenOutput) -> str:
        self.ids += out.new_token_ids
        self.last = out
        text = self.tokenizer.decode(self.ids)
        delta, self.text = text[len(self.text):], text
        return delta

    def result(self) -> dict:
        out = self.last
        reason = out.finish_reason.to_json() if out and out.finish_reason else None
        return {"text": self.text, "output_ids": self.ids,
                "meta_info": {"id": self.req.rid, "finish_reason": reason,
                              "prompt_tokens": out.prompt_tokens if out else 0,
                              "completion_tokens": len(self.ids),
                              "cached_tokens": out.cached_tokens if out else 0}}
