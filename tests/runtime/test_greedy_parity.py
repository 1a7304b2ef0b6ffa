"""Greedy decoding with the real model is token-identical to transformers' generate."""
from __future__ import annotations

import torch

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village,",
    "The three primary colors are",
    "Water boils at",
    "To make a cup of tea, first",
    "The largest planet in our solar system",
    "import numpy as np\n",
    "Q: What is 12 times 12?\nA:",
    "Photosynthesis is the process by which",
    "The meaning of life is",
]


def test_greedy_matches_transformers_generate(real_engine, hf_reference):
    tok = real_engine.tokenizer
    chats = [tok.apply_chat_template([{"role": "user", "content": "Name a fruit."}], tokenize=False, add_generation_prompt=True)]
    prompts = PROMPTS + chats
    outs = real_engine.generate(prompts, {"max_new_tokens": 24, "min_new_tokens": 24, "temperature": 0})
    for prompt, out in zip(prompts, outs):
        ids = tok.encode(prompt, add_special_tokens=False)
        with torch.no_grad():
            ref = hf_reference.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False, min_new_tokens=24, pad_token_id=tok.eos_token_id)
        assert out["output_ids"] == ref[0, len(ids):].tolist(), prompt
        assert out["meta_info"]["completion_tokens"] == 24
        assert out["meta_info"]["finish_reason"]["type"] == "length"
