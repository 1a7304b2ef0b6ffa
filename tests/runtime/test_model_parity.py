"""Our model's logits equal transformers' implementation of the same weights."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from sglike.runtime.config import EngineConfig
from sglike.runtime.forward_batch import ForwardBatch, ForwardMode
from sglike.runtime.model_loader import resolve_model
from sglike.runtime.model_runner import ModelRunner


def _prefill_logits(runner: ModelRunner, ids: list[int]) -> torch.Tensor:
    n = len(ids)
    row = runner.req_table.alloc()
    slots = runner.allocator.alloc(n)
    runner.req_table.table[row, :n] = slots
    batch = ForwardBatch(ForwardMode.EXTEND, torch.tensor(ids), torch.arange(n), slots, torch.tensor([row]), [n], [n], torch.arange(n))
    out = runner.forward(batch)
    runner.allocator.free(slots)
    runner.req_table.free(row)
    return out


TINY_CONFIGS = {
    "llama-gqa-untied": dict(arch="llama", tie_word_embeddings=False),
    "llama-tied": dict(arch="llama", tie_word_embeddings=True, num_key_value_heads=4),
    "llama3-rope-scaling": dict(
        arch="llama",
        rope_theta=500000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
    ),
    "qwen2-qkv-bias": dict(arch="qwen2", tie_word_embeddings=False),
}


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_tiny_random_model_matches_transformers(name, tmp_path, default_tokenizer, tiny_model_factory):
    folder = tiny_model_factory(str(tmp_path), default_tokenizer, **TINY_CONFIGS[name])
    runner = ModelRunner(EngineConfig(model_path=folder, dtype="float32", max_total_tokens=512), resolve_model(folder))
    ref = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = default_tokenizer.encode("Hello there, how are you doing today? " * 8)[:100]
    ours = _prefill_logits(runner, ids)
    with torch.no_grad():
        theirs = ref(torch.tensor([ids])).logits[0]
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=1e-4)


def test_default_model_matches_transformers_float32(hf_reference, default_tokenizer):
    runner = ModelRunner(EngineConfig(dtype="float32", quantization="none", max_total_tokens=1024), resolve_model(None))
    ids = default_tokenizer.encode("The quick brown fox jumps over the lazy dog. In 1905, Einstein published")
    ours = _prefill_logits(runner, ids)
    with torch.no_grad():
        theirs = hf_reference(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(ours, theirs, atol=5e-4, rtol=1e-4)


def test_missing_model_errors_say_how_to_provide_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded"):
        resolve_model(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="hub id"):
        resolve_model("HuggingFaceTB/SmolLM2-1.7B-Instruct")
    with pytest.raises(FileNotFoundError, match="config.json"):
        resolve_model(str(tmp_path))
