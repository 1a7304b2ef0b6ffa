"""The fast ``torch`` attention backend equals the plain ``torch_ref`` backend, through the
runtime's KV pool and forward batches and on the real model (kernel-level parity of each
fast path and its twin: tests/kernels)."""
from __future__ import annotations

import pytest
import torch

from sglike.runtime import Engine
from sglike.runtime.attention import BACKENDS, create_backend
from sglike.runtime.attention.torch_backend import TorchAttentionBackend
from sglike.runtime.attention.torch_ref_backend import TorchReferenceBackend
from sglike.runtime.config import EngineConfig
from sglike.runtime.forward_batch import ForwardBatch, ForwardMode
from sglike.runtime.mem.kv_pool import KVPool

HK, HQ, D, SLOTS = 2, 6, 16, 2000


def test_registry_names_and_unknown_backend() -> None:
    assert {"torch", "torch_ref"} <= set(BACKENDS)
    with pytest.raises(ValueError, match="unknown attention_backend 'nope'; available: torch, torch_ref"):
        EngineConfig(attention_backend="nope")
    with pytest.raises(ValueError, match="available: torch, torch_ref"):
        create_backend("nope")
    pool = KVPool(8, 1, HK, D, torch.float32, torch.device("cpu"))
    kwargs = dict(kv_pool=pool, req_to_token=torch.zeros((2, 8), dtype=torch.int64), num_heads=HQ, num_kv_heads=HK, head_dim=D)
    assert type(create_backend("torch", **kwargs)) is TorchAttentionBackend
    assert type(create_backend("torch_ref", **kwargs)) is TorchReferenceBackend


def _rows(gen: torch.Generator) -> tuple[list[list[int]], list[int]]:
    """Slot rows of five requests and how many of each row's tokens are new: four share a
    cached 96-token prefix (two with cached tokens of their own past it), one has a private
    cached prefix, one is a fresh 200-token prompt (the blocked causal path)."""
    perm = (torch.randperm(SLOTS - 1, generator=gen) + 1).tolist()
    take = lambda n: [perm.pop() for _ in range(n)]  # noqa: E731
    shared = take(96)
    rows = [shared + take(int(torch.randint(1, 30, (), generator=gen))) for _ in range(4)]
    rows += [take(150), take(200)]
    new = [len(rows[0]) - 96, 5, len(rows[2]) - 96, 3, 40, 200]
    return rows, new


def _batch(mode: ForwardMode, rows: list[list[int]], new: list[int]) -> ForwardBatch:
    loc = torch.tensor([s for r, n in zip(rows, new) for s in r[len(r) - n :]])
    positions = torch.cat([torch.arange(len(r) - n, len(r)) for r, n in zip(rows, new)])
    return ForwardBatch(mode=mode, input_ids=torch.zeros(len(loc), dtype=torch.int64), positions=positions, out_cache_loc=loc,
                        req_rows=torch.arange(len(rows)), seq_lens=[len(r) for r in rows], extend_lens=new,
                        logit_indices=torch.zeros(0, dtype=torch.int64))


@pytest.mark.parametrize("seed", range(4))
def test_fast_backend_matches_reference_backend(seed: int) -> None:
    """A prefill then two decode steps; both backends share one pool (they write the same
    k/v); the fast one takes its cascades and counts its cascade decode steps."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    pool = KVPool(SLOTS, 1, HK, D, torch.float32, torch.device("cpu"))
    rows, new = _rows(gen)
    table = torch.zeros((len(rows), 400), dtype=torch.int64)
    fast, ref = (create_backend(name, kv_pool=pool, req_to_token=table, num_heads=HQ, num_kv_heads=HK, head_dim=D) for name in ("torch", "torch_ref"))
    free = [s for s in range(1, SLOTS) if all(s not in r for r in rows)]
    for step, mode in enumerate((ForwardMode.EXTEND, ForwardMode.DECODE, ForwardMode.DECODE)):
        if step:
            rows, new = [r + [free.pop()] for r in rows], [1] * len(rows)
        for i, r in enumerate(rows):
            table[i, : len(r)] = torch.tensor(r)
        t = sum(new)
        q, k, v = torch.randn(t, HQ, D), torch.randn(t, HK, D), torch.randn(t, HK, D)
        outs = []
        for backend in (fast, ref):
            batch = _batch(mode, rows, new)
            backend.prepare(batch)
            assert (batch.attn_meta.cascade is not None) == (backend is fast)
            outs.append(backend.forward(0, q, k, v, batch))
        torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)
    assert fast.cascade_steps == 2 and not hasattr(ref, "cascade_steps")
    other = create_backend("torch", kv_pool=pool, req_to_token=table, num_heads=HQ, num_kv_heads=HK, head_dim=D)
    assert other.cascade_steps == 0  # a counter per backend instance, not per class


def test_engine_outputs_same_with_torch_and_torch_ref(real_engine) -> None:
    """Greedy decoding of requests sharing a long system prompt (float32): the ``torch``
    backend takes its cascade path and gives the same tokens as ``torch_ref``."""
    system = "You are a meticulous assistant. " * 12
    prompts = [f"{system}\nQuestion {i}: name a colour and a number." for i in range(6)]
    params = {"max_new_tokens": 24, "temperature": 0, "ignore_eos": True}
    real_engine.flush_cache()
    before = real_engine.get_server_info()["cascade_decode_steps"]
    fast = real_engine.generate(prompts, params)
    assert real_engine.get_server_info()["cascade_decode_steps"] > before
    ref_engine = Engine(dtype="float32", quantization="none", max_total_tokens=4096, max_running_requests=8, attention_backend="torch_ref")
    try:
        plain = ref_engine.generate(prompts, params)
        assert ref_engine.get_server_info()["cascade_decode_steps"] == 0
    finally:
        ref_engine.shutdown()
    assert [o["output_ids"] for o in fast] == [o["output_ids"] for o in plain]
