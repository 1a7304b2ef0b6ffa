"""Decode speed with and without a JSON-schema constraint (and with jump-forward), same run.

    python benchmarks/bench_constrained_decode.py [--num 8] [--max-new-tokens 160]

Unconstrained requests use ignore_eos with the same token budget as the constrained
outputs produced, so both sides decode the same number of tokens per request; they run after
the constrained ones, in the same engine, so anything grammar work leaves behind (threads,
caches) shows in the baseline too.
"""
from __future__ import annotations

import argparse
import json

from common import print_table, timer

SCHEMA = {
    "type": "object",
    "properties": {
        "customer_full_legal_name": {"type": "string", "maxLength": 32},
        "customer_primary_email_address": {"type": "string", "format": "email"},
        "customer_age_in_completed_years": {"type": "integer", "minimum": 0, "maximum": 120},
        "preferred_contact_channel_for_marketing": {"enum": ["email", "phone", "post"]},
        "account_is_currently_active_and_verified": {"type": "boolean"},
    },
    "required": [
        "customer_full_legal_name", "customer_primary_email_address", "customer_age_in_completed_years",
        "preferred_contact_channel_for_marketing", "account_is_currently_active_and_verified",
    ],
}


def run(engine, prompts: list[str], params: dict) -> tuple[float, int, list[dict]]:
    with timer() as t:
        outs = engine.generate(prompts, params)
    return t["seconds"], sum(o["meta_info"]["completion_tokens"] for o in outs), outs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    args = ap.parse_args()
    from sglike.runtime import Engine

    rows = []
    for jump_forward in (False, True):
        engine = Engine(enable_jump_forward=jump_forward)
        try:
            chat = engine.tokenizer.apply_chat_template([{"role": "user", "content": "Make up a customer record as JSON."}], tokenize=False, add_generation_prompt=True)
            prompts = [chat] * args.num
            if not jump_forward:  # the same plain workload before any grammar work (64 tokens each)
                engine.generate(chat, {"max_new_tokens": 8})
                b_sec, b_tok, _ = run(engine, prompts, {"max_new_tokens": 64, "temperature": 0.8, "ignore_eos": True, "seed": 0})
            constrained = {"max_new_tokens": args.max_new_tokens, "json_schema": json.dumps(SCHEMA), "temperature": 0.8, "seed": 0}
            engine.generate(chat, {**constrained, "max_new_tokens": 8})  # compile + warm the mask cache
            c_sec, c_tok, outs = run(engine, prompts, constrained)
            aborted = [o["meta_info"]["finish_reason"] for o in outs if o["meta_info"]["finish_reason"]["type"] == "abort"]
            if aborted:
                raise SystemExit(f"constrained requests failed: {aborted[0]}")
            for out in outs:  # a complete output must parse; a cut one (length) is only counted
                if out["meta_info"]["finish_reason"]["type"] == "stop":
                    json.loads(out["text"])
            per_req = max(1, c_tok // args.num)
            if not jump_forward:
                u_sec, u_tok, _ = run(engine, prompts, {"max_new_tokens": per_req, "temperature": 0.8, "ignore_eos": True, "seed": 0})
                base = u_tok / u_sec
                rows.append(["unconstrained, before any grammar work", b_sec, b_tok, b_tok / b_sec, (b_tok / b_sec) / base])
                rows.append(["unconstrained, after the constrained requests", u_sec, u_tok, u_tok / u_sec, 1.0])
            name = "json_schema + jump-forward" if jump_forward else "json_schema"
            rows.append([name, c_sec, c_tok, c_tok / c_sec, (c_tok / c_sec) / base])
        finally:
            engine.shutdown()
    print_table(
        f"constrained decoding: {args.num} requests, default model",
        ["mode", "seconds", "output tokens", "output tok/s", "vs unconstrained"],
        rows,
    )


if __name__ == "__main__":
    main()
