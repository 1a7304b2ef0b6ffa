"""GGUF files: metadata -> ModelConfig, tensors -> dequantized HF-named state dict."""
from __future__ import annotations

import re
from typing import Any, Iterator

from .lazy_weights import GGUFWeight
from .model_config import ModelConfig

SUPPORTED_QUANTS = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q6_K")
_ARCHS = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}
_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GLOBAL_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}


def open_gguf(path: str):
    import gguf

    return gguf.GGUFReader(path)


def gguf_metadata(reader) -> dict[str, Any]:
    """Scalar and string metadata fields (token lists are skipped)."""
    out: dict[str, Any] = {}
    for key, fld in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and key.split(".")[-1] in ("tokens", "scores", "token_type", "merges"):
            continue
        try:
            out[key] = fld.contents()
        except Exception:  # noqa: BLE001 - exotic field types are irrelevant here
            continue
    return out


def gguf_model_config(reader) -> ModelConfig:
    meta = gguf_metadata(reader)
    arch = meta["general.architecture"]
    if arch not in _ARCHS:
        raise ValueError(f"unsupported GGUF architecture {arch!r}; supported: {', '.join(_ARCHS)}")
    p = f"{arch}."
    heads = int(meta[p + "attention.head_count"])
    hidden = int(meta[p + "embedding_length"])
    names = {t.name for t in reader.tensors}
    vocab = meta.get(p + "vocab_size") or len(reader.fields["tokenizer.ggml.tokens"].data)
    rope_scaling = None
    if meta.get(p + "rope.scaling.type") == "linear":
        rope_scaling = {"rope_type": "linear", "factor": float(meta[p + "rope.scaling.factor"])}
    eos = meta.get("tokenizer.ggml.eos_token_id")
    return ModelConfig(
        architecture=_ARCHS[arch],
        vocab_size=int(vocab),
        hidden_size=hidden,
        intermediate_size=int(meta[p + "feed_forward_length"]),
        num_layers=int(meta[p + "block_count"]),
        num_heads=heads,
        num_kv_heads=int(meta.get(p + "attention.head_count_kv", heads)),
        head_dim=int(meta.get(p + "attention.key_length", hidden // heads)),
        rms_norm_eps=float(meta.get(p + "attention.layer_norm_rms_epsilon", 1e-5)),
        rope_theta=float(meta.get(p + "rope.freq_base", 10000.0)),
        max_position_embeddings=int(meta.get(p + "context_length", 4096)),
        tie_word_embeddings="output.weight" not in names,
        attention_bias=arch == "qwen2",
        rope_scaling=rope_scaling,
        eos_token_ids=() if eos is None else (int(eos),),
        bos_token_id=meta.get("tokenizer.ggml.bos_token_id"),
        extra={"gguf_arch": arch, "rope_freqs": "rope_freqs.weight" in names},
    )


def _hf_name(gguf_name: str) -> str | None:
    m = re.fullmatch(r"blk\.(\d+)\.(\w+)\.(weight|bias)", gguf_name)
    if m:
        layer, part, kind = m.groups()
        if part not in _LAYER_NAMES:
            return None
        return f"model.layers.{layer}.{_LAYER_NAMES[part]}.{kind}"
    base, _, kind = gguf_name.rpartition(".")
    return f"{_GLOBAL_NAMES[base]}.{kind}" if base in _GLOBAL_NAMES else None


def iter_gguf_weights(reader, config: ModelConfig, keep_blocks: bool = False, lazy: bool = False) -> Iterator[tuple[str, Any]]:
    """Yield ``(hf_name, float32 tensor)`` for every weight the model needs; with
    ``keep_blocks``, Q4_0/Q4_1/Q8_0 matrices come as ``GGUFTensor`` (the file's own blocks);
    with ``lazy``, as ``GGUFWeight``s a tensor-parallel rank narrows to its shard."""
    permute = config.extra.get("gguf_arch") == "llama"
    for t in reader.tensors:
        name = _hf_name(t.name)
        if name is None:
            continue
        qtype = t.tensor_type.name
        if qtype not in SUPPORTED_QUANTS:
            raise ValueError(f"tensor {t.name} uses quantization {qtype}; supported: {', '.join(SUPPORTED_QUANTS)}")
        heads = 0
        if permute and name.endswith("q_proj.weight"):
            heads = config.num_heads
        elif permute and name.endswith("k_proj.weight"):
            heads = config.num_kv_heads
        weight = GGUFWeight(qtype, t.data, tuple(int(d) for d in reversed(t.shape)), keep_blocks, heads)
        yield name, weight if lazy else weight.materialize()


def gguf_tensor_types(reader) -> dict[str, str]:
    """HF weight name -> GGML type name (``"Q4_1"``, ``"F32"``, ...)."""
    return {name: t.tensor_type.name for t in reader.tensors if (name := _hf_name(t.name)) is not None}
