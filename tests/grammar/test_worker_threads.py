"""Grammar worker threads run torch on one thread: a parallel torch op there would give the
thread its own OpenMP team, more OpenMP threads than cores beside the forward's, and libgomp
then wakes every later forward's parallel regions slowly (plain decode 274 -> ~100 tok/s on
2 cores after one constrained request)."""
from __future__ import annotations

import threading
from types import SimpleNamespace

import torch

from sglike.grammar.regex import mask_worker


def test_the_mask_worker_runs_torch_on_one_thread():
    seen: list[int] = []
    done = threading.Event()

    class Owner:
        pass

    owner = Owner()

    def job(_owner) -> None:
        seen.append(torch.get_num_threads())
        done.set()

    mask_worker.submit_weak(owner, job, lambda _o: done.set())
    assert done.wait(30)
    assert seen == [1]


def test_the_compile_thread_runs_torch_on_one_thread():
    from sglike.runtime.config import EngineConfig
    from sglike.runtime.sampling_params import SamplingParams
    from sglike.runtime.scheduler.grammar_hook import GrammarHook

    hook = GrammarHook(EngineConfig(), tokenizer=None, vocab_size=8, eos_ids=set())
    hook._compile = lambda *args: torch.get_num_threads()  # what the compile thread sees
    req = SimpleNamespace(sp=SamplingParams.from_dict({"regex": "a+"}))
    hook.start(req)
    assert req.grammar_pending.result(timeout=30) == 1
