"""Tensor-parallel pieces that need no second process: the shard arithmetic, the valid-size
error, the lazy weight readers (a rank's slice equals the same slice of the whole tensor,
GGUF blocks cut exactly on 32-weight boundaries), and the C++ decode step refusing a shard."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sglike.runtime.distributed.comm import TPInfo
from sglike.runtime.distributed.sharding import check_tp_size, kv_heads, valid_tp_sizes, vocab_rows
from sglike.runtime.model_loader.gguf_blocks import GGUFTensor


def test_valid_sizes_and_error_name_them(default_source):
    from sglike.runtime.model_runner import load_model_config

    cfg = load_model_config(default_source)  # SmolLM2-135M: 9 heads, 3 KV heads, MLP 1536
    assert valid_tp_sizes(cfg.num_heads, cfg.num_kv_heads, cfg.intermediate_size) == [1, 3]
    with pytest.raises(ValueError, match=r"tp_size 2 .*9 attention heads.*valid tp sizes: 1, 3"):
        check_tp_size(cfg, 2)
    assert valid_tp_sizes(4, 2, 128) == [1, 2, 4]  # 4 replicates the 2 KV heads


def test_kv_heads_split_or_replicate():
    assert [kv_heads(2, r, 2) for r in range(2)] == [(0, 1), (1, 1)]
    assert [kv_heads(2, r, 4) for r in range(4)] == [(0, 1), (0, 1), (1, 1), (1, 1)]  # replicas
    assert [kv_heads(4, r, 2) for r in range(2)] == [(0, 2), (2, 2)]


def test_vocab_rows_pad_the_last_rank():
    assert [vocab_rows(10, r, 4) for r in range(4)] == [(0, 3, 3), (3, 3, 3), (6, 3, 3), (9, 1, 3)]
    assert sum(vocab_rows(49155, r, 4)[1] for r in range(4)) == 49155


def _gguf_weights(source, *names, keep_blocks=True):
    from sglike.runtime.model_loader.gguf_loader import iter_gguf_weights, open_gguf
    from sglike.runtime.model_runner import load_model_config

    reader = open_gguf(source.path)
    cfg = load_model_config(source, reader)
    return {n: w for n, w in iter_gguf_weights(reader, cfg, keep_blocks=keep_blocks, lazy=True) if n in names}


def test_gguf_shards_are_exact_slices(default_source):
    o, q, emb = "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.q_proj.weight", "model.embed_tokens.weight"
    lazy = _gguf_weights(default_source, o, q, emb)
    whole_o = lazy[o].materialize()
    assert isinstance(whole_o, GGUFTensor) and whole_o.qtype == "Q4_1"
    for rank in range(3):  # row-parallel: 192 input columns per rank, 6 whole blocks
        part = lazy[o].narrow(1, 192 * rank, 192)
        assert isinstance(part, GGUFTensor)  # still the file's own blocks
        assert torch.equal(part.dequantize(), whole_o.dequantize()[:, 192 * rank : 192 * (rank + 1)])
    whole_q = lazy[q].materialize().dequantize()  # column-parallel: 3 heads of 64 rows, rope order undone per head
    for rank in range(3):
        assert torch.equal(lazy[q].narrow(0, 192 * rank, 192).dequantize(), whole_q[192 * rank : 192 * (rank + 1)])
    rows = lazy[emb].narrow(0, 16384, 100)  # a vocab slice of the Q8_0 embedding
    assert torch.equal(rows.dequantize(), lazy[emb].materialize().dequantize()[16384:16484])
    off_block = lazy[o].narrow(1, 16, 64)  # not on block boundaries: whole rows dequantized, then cut
    assert torch.equal(off_block, whole_o.dequantize()[:, 16:80])


def test_safetensors_shards_read_slices(tmp_path):
    from safetensors.torch import save_file

    from sglike.runtime.model_loader.hf_loader import iter_safetensors_weights

    w = torch.randn(6, 8)
    save_file({"w": w, "b": torch.arange(6.0)}, str(tmp_path / "m.safetensors"))
    for name, lazy in iter_safetensors_weights(str(tmp_path), lazy=True):
        if name == "w":
            assert torch.equal(lazy.narrow(0, 2, 2), w[2:4]) and torch.equal(lazy.narrow(1, 4, 4), w[:, 4:])
            assert torch.equal(lazy.materialize(), w)


def test_cpu_decode_step_refuses_a_shard(tiny_model_factory, default_tokenizer, tmp_path):
    from sglike.runtime.attention.torch_backend import TorchAttentionBackend
    from sglike.runtime.cpu_decode_step import CpuDecodeStep
    from sglike.runtime.mem.kv_pool import KVPool
    from sglike.runtime.model_loader.hf_loader import hf_model_config
    from sglike.runtime.models.llama import LlamaForCausalLM

    cfg = hf_model_config(tiny_model_factory(str(tmp_path), default_tokenizer))
    pool = KVPool(16, cfg.num_layers, 1, cfg.head_dim, torch.float32, torch.device("cpu"))
    table = torch.zeros(2, 16, dtype=torch.int64)
    attn = TorchAttentionBackend(pool, table, 2, 1, cfg.head_dim)
    with torch.device("meta"):
        shard = LlamaForCausalLM(cfg, 64, tp=TPInfo(rank=0, size=2))
        whole = LlamaForCausalLM(cfg, 64)
    assert "tensor parallelism" in CpuDecodeStep.unsupported_reason(shard, attn, table, torch.float32)
    from sglike.kernels import cpu

    if cpu.available():
        assert CpuDecodeStep.unsupported_reason(whole, attn, table, torch.float32) is None
    assert shard.layers[0].self_attn.hq == 2 and shard.layers[0].self_attn.hk == 1
    assert shard.layers[0].mlp.gate_up_proj.out_features == 128  # half of 2 x 128
    assert shard.layers[0].self_attn.o_proj.in_features == 32


def test_options_on_the_config_and_the_cli():
    from sglike.cli import build_parser
    from sglike.runtime.config import EngineConfig

    parser, names = build_parser()
    args = parser.parse_args(["serve", "--tp-size", "4", "--nnodes", "2", "--node-rank", "1", "--dist-init-addr", "10.0.0.1:5000",
                              "--dist-timeout", "60"])
    config = EngineConfig.from_kwargs(**{n: getattr(args, n) for n in names})
    assert (config.tp_size, config.nnodes, config.node_rank, config.dist_init_addr, config.dist_timeout) == (4, 2, 1, "10.0.0.1:5000", 60)
    with pytest.raises(ValueError, match="multiple of nnodes"):
        EngineConfig(tp_size=3, nnodes=2, dist_init_addr="h:1")
    with pytest.raises(ValueError, match="dist_init_addr"):
        EngineConfig(tp_size=2, nnodes=2)
    with pytest.raises(ValueError, match="node_rank"):
        EngineConfig(tp_size=2, nnodes=2, node_rank=2, dist_init_addr="h:1")
    with pytest.raises(ValueError, match="HOST:PORT"):
        EngineConfig(tp_size=2, dist_init_addr="nohost")


def test_row_parallel_quantized_needs_whole_groups(caplog):
    from sglike.runtime.layers.linear_method import get_linear_method
    from sglike.runtime.layers.parallel_linear import RowParallelLinear

    kept = RowParallelLinear(128, 8, method=get_linear_method("int4"), tp=TPInfo(rank=1, size=2))  # 64 columns: 2 groups
    assert kept.method.name == "int4" and kept.in_features == 64
    with caplog.at_level("WARNING"):
        fallback = RowParallelLinear(96, 8, method=get_linear_method("int4"), tp=TPInfo(rank=1, size=2))  # 48 columns
    assert fallback.method.name == "float" and "runs in float" in caplog.text
    w = torch.randn(8, 96)
    fallback.weight_loader(fallback.weight, w)
    assert torch.equal(fallback.weight.data, w[:, 48:])  # rank 1's columns
