"""The peers of bench_decode: transformers `generate` and llama-cpp-python, each timed the
way bench_decode times sglike (decode excludes the prompt; prefill on a fresh cache)."""
from __future__ import annotations

import os
import time

import numpy as np
import torch


class Transformers:
    """transformers on the same GGUF (dequantized into ``dtype``), left-padded batches."""

    def __init__(self, gguf: tuple[str, str], threads: int, dtype: torch.dtype) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder, name = gguf
        self.dtype = dtype
        self.tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        self.tok.padding_side = "left"
        self.model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=self.dtype).eval()
        self.name = f"transformers ({str(self.dtype).removeprefix('torch.')})"

    def weight_bytes(self) -> int:
        return sum(p.numel() * p.element_size() for p in self.model.parameters())

    def _time(self, prompts: list[str], new_tokens: int) -> float:
        enc = self.tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        start = time.perf_counter()
        with torch.no_grad():
            self.model.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                pad_token_id=self.tok.eos_token_id)
        return time.perf_counter() - start

    def decode(self, prompts: list[str], n: int) -> float:
        self._time(prompts, 2)
        return len(prompts) * n / (self._time(prompts, 1 + n) - self._time(prompts, 1))

    def prefill(self, prompt: str, n_tokens: int) -> float:
        self._time([prompt], 1)
        return n_tokens / self._time([prompt], 1)

    def close(self) -> None:
        del self.model


class LlamaCpp:
    """llama-cpp-python on the same GGUF file; one sequence per context (batch 1 only)."""

    def __init__(self, gguf: tuple[str, str], threads: int) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=os.path.join(*gguf), n_ctx=2048, n_batch=512, n_threads=threads,
                         n_threads_batch=threads, verbose=False)
        self.path = os.path.join(*gguf)
        self.name = "llama-cpp-python (GGUF as is)"

    def weight_bytes(self) -> int:
        return os.path.getsize(self.path)

    def _prefill(self, prompt: str) -> tuple[float, int]:
        tokens = self.llm.tokenize(prompt.encode(), add_bos=False, special=True)
        self.llm.reset()
        start = time.perf_counter()
        self.llm.eval(tokens)
        return time.perf_counter() - start, len(tokens)

    def decode(self, prompts: list[str], n: int) -> float:
        if len(prompts) != 1:
            raise NotImplementedError("llama-cpp-python runs one sequence per context")
        rates = []
        for _ in range(2):  # the first run warms up
            self._prefill(prompts[0])
            start = time.perf_counter()
            for _ in range(n):
                token = int(np.argmax(self.llm.scores[self.llm.n_tokens - 1]))
                self.llm.eval([token])
            rates.append(n / (time.perf_counter() - start))
        return rates[-1]

    def prefill(self, prompt: str, n_tokens: int) -> float:
        self._prefill(prompt)
        seconds, count = self._prefill(prompt)
        return count / seconds

    def close(self) -> None:
        self.llm.close()
