"""Runtime fixtures: the real default model (float32) and tiny random Llama folders."""
from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(scope="session")
def default_source():
    from sglike.runtime.model_loader import resolve_model

    return resolve_model(None)


@pytest.fixture(scope="session")
def default_tokenizer():
    """The default model's tokenizer; where the model cannot be installed (a GPU machine
    with no package index), a saved copy of it in the folder ``SGLIKE_TEST_TOKENIZER``."""
    from sglike.runtime.api.tokenizer import load_tokenizer

    saved = os.environ.get("SGLIKE_TEST_TOKENIZER")
    if saved:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(saved, local_files_only=True)
    from sglike.runtime.model_loader import resolve_model

    return load_tokenizer(resolve_model(None))


@pytest.fixture(scope="session")
def real_engine():
    """The default model dequantized to float32 (compared with transformers), ample KV pool."""
    from sglike.runtime import Engine

    engine = Engine(dtype="float32", quantization="none", max_total_tokens=16384, max_running_requests=32)
    yield engine
    engine.shutdown()


@pytest.fixture(scope="session")
def hf_reference(default_source):
    """transformers' own implementation of the default model's weights (float32)."""
    from transformers import AutoModelForCausalLM

    folder, name = os.path.split(default_source.path)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_model_factory():
    """``factory(folder, tokenizer, arch=..., **config_overrides) -> folder``."""
    return make_tiny_model


def make_tiny_model(folder: str, tokenizer, *, arch: str = "llama", **overrides) -> str:
    """Save a random-weight tiny model (HF folder: config.json + safetensors + tokenizer)."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    common = dict(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, rms_norm_eps=1e-5,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
    )
    common.update(overrides)
    if arch == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    else:
        model = LlamaForCausalLM(LlamaConfig(**common))
    with torch.no_grad():  # random init gives near-uniform logits; sharpen them
        for p in model.parameters():
            p.mul_(4.0) if p.dim() == 2 else None
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
