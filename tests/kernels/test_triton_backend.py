"""The ``triton`` attention backend equals the plain ``torch_ref`` backend through the KV
pool and forward batches (prefill after shared cached prefixes, then cascade and plain
decode steps); ``auto`` and the refusal where Triton cannot run; CUDA-graph buckets."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")

from sglike.runtime.attention import create_backend, resolve_backend_name  # noqa: E402
from sglike.runtime.attention.torch_backend import TorchAttentionBackend  # noqa: E402
from sglike.runtime.attention.triton_backend import TritonAttentionBackend  # noqa: E402
from sglike.runtime.config import EngineConfig  # noqa: E402
from sglike.runtime.cuda_graph_runner import capture_sizes  # noqa: E402
from sglike.runtime.forward_batch import ForwardBatch, ForwardMode  # noqa: E402
from sglike.runtime.mem.kv_pool import KVPool  # noqa: E402

HK, HQ, D, SLOTS = 2, 6, 64, 600


def _batch(mode: ForwardMode, rows: list[list[int]], new: list[int], device: torch.device) -> ForwardBatch:
    loc = torch.tensor([s for r, n in zip(rows, new) for s in r[len(r) - n :]])
    positions = torch.cat([torch.arange(len(r) - n, len(r)) for r, n in zip(rows, new)])
    return ForwardBatch(mode=mode, input_ids=torch.zeros(len(loc), dtype=torch.int64, device=device), positions=positions.to(device),
                        out_cache_loc=loc.to(device), req_rows=torch.arange(len(rows), device=device), seq_lens=[len(r) for r in rows],
                        extend_lens=new, logit_indices=torch.zeros(0, dtype=torch.int64, device=device))


def test_triton_backend_matches_reference_backend(pools) -> None:
    """Three requests share a cached 70-token prefix (with 1, 9 and 20 new tokens), one is a
    fresh 40-token prompt; then two decode steps (the first a cascade). Each backend has its
    own pool and both write the same k/v."""
    gen = torch.Generator().manual_seed(0)
    perm = (torch.randperm(SLOTS - 1, generator=gen) + 1).tolist()
    shared = perm[:70]
    rows = [shared + perm[70:71], shared + perm[71:80], shared + perm[80:100], perm[100:140]]
    new = [1, 9, 20, 40]
    free = perm[140:]
    device = pools.device
    table = torch.zeros((len(rows), 200), dtype=torch.int64, device=device)
    backends = []
    for name in ("triton", "torch_ref"):
        pool = KVPool(SLOTS, 1, HK, D, torch.float32, device)
        backends.append(create_backend(name, kv_pool=pool, req_to_token=table, num_heads=HQ, num_kv_heads=HK, head_dim=D))
    prefix_kv = torch.randn(HK, SLOTS + 1, D, generator=gen).to(device), torch.randn(HK, SLOTS + 1, D, generator=gen).to(device)
    for b in backends:  # the cached prefix is already in both pools
        b.kv_pool.k[0].copy_(prefix_kv[0])
        b.kv_pool.v[0].copy_(prefix_kv[1])
    for step, mode in enumerate((ForwardMode.EXTEND, ForwardMode.DECODE, ForwardMode.DECODE)):
        if step:
            rows, new = [r + [free.pop()] for r in rows], [1] * len(rows)
        for i, r in enumerate(rows):
            table[i, : len(r)] = torch.tensor(r)
        t = sum(new)
        q, k, v = (torch.randn(t, h, D, generator=gen).to(device) for h in (HQ, HK, HK))
        outs = []
        for backend in backends:
            batch = _batch(mode, rows, new, device)
            backend.prepare(batch)
            outs.append(backend.forward(0, q, k, v, batch))
        torch.testing.assert_close(outs[0], outs[1], atol=2e-5, rtol=1e-4)
    assert backends[0].cascade_steps == 2  # both decode steps took the shared-prefix path


def _kwargs(device: torch.device) -> dict:
    pool = KVPool(8, 1, HK, D, torch.float32, device)
    return dict(kv_pool=pool, req_to_token=torch.zeros((2, 8), dtype=torch.int64, device=device), num_heads=HQ, num_kv_heads=HK, head_dim=D)


def test_auto_picks_triton_on_cuda_and_torch_elsewhere(pools) -> None:
    assert EngineConfig().attention_backend == "auto"
    assert resolve_backend_name("auto", torch.device("cpu")) == "torch"
    assert resolve_backend_name("auto", torch.device("cuda")) == "triton"
    assert resolve_backend_name("torch_ref", torch.device("cuda")) == "torch_ref"
    want = TritonAttentionBackend if pools.device.type == "cuda" else TorchAttentionBackend
    assert type(create_backend("auto", **_kwargs(pools.device))) is want
    with pytest.raises(ValueError, match="available: torch, torch_ref, triton"):
        EngineConfig(attention_backend="cuda")


def test_triton_refused_on_cpu_without_the_interpreter(monkeypatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(RuntimeError, match="needs a CUDA device .* TRITON_INTERPRET=1"):
        create_backend("triton", **_kwargs(torch.device("cpu")))
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert type(create_backend("triton", **_kwargs(torch.device("cpu")))) is TritonAttentionBackend


def test_cuda_graph_buckets() -> None:
    assert capture_sizes(1) == [1]
    assert capture_sizes(12) == [1, 2, 4, 8, 12]
    assert capture_sizes(40) == [1, 2, 4, 8, 16, 24, 32, 40]
    assert capture_sizes(37) == [1, 2, 4, 8, 16, 24, 32, 37]
    with pytest.raises(ValueError, match="cuda_graph_max_bs"):
        EngineConfig(cuda_graph_max_bs=0)


def test_triton_refuses_head_dims_its_kernels_cannot_tile(pools) -> None:
    kwargs = _kwargs(pools.device)
    kwargs["head_dim"] = 80
    with pytest.raises(ValueError, match="power-of-two head_dim"):
        create_backend("triton", **kwargs)
