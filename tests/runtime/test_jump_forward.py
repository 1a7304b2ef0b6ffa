"""Jump-forward on the real tokenizer and grammar compiler: what it appends, and that both
boundaries of the forced text are tokenized the way the model would see them."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from sglike.grammar import GrammarCompiler
from sglike.runtime.scheduler.jump_forward import jump_forward_at_start, try_jump_forward


@pytest.fixture(scope="module")
def compiler(default_tokenizer, tmp_path_factory) -> GrammarCompiler:
    return GrammarCompiler(default_tokenizer, cache_dir=tmp_path_factory.mktemp("jf_cache"))


def _req(compiler: GrammarCompiler, regex: str, max_new_tokens: int = 64) -> SimpleNamespace:
    matcher = compiler.compile_regex(regex).matcher()
    return SimpleNamespace(grammar=matcher, output_ids=[], sp=SimpleNamespace(max_new_tokens=max_new_tokens), jump_forward_tokens=0, decoding=True)


def _sample(req: SimpleNamespace, token: int) -> None:
    assert req.grammar.advance(token)
    req.output_ids.append(token)


def test_start_jump_leaves_the_trailing_space_to_the_model(compiler, default_tokenizer):
    req = _req(compiler, r"SELECT (name|age) FROM [a-z]+;")
    assert jump_forward_at_start(req, default_tokenizer) == len(req.output_ids) > 0
    assert default_tokenizer.decode(req.output_ids) == "SELECT"  # not "SELECT " + a lone space
    assert req.grammar.jump_forward_bytes() == b" "
    mask = req.grammar.allowed_tokens()
    assert mask[default_tokenizer.encode(" age", add_special_tokens=False)[0]]  # the model may write " age" in one token


def test_jump_after_a_sampled_token_retokenizes_and_heals(compiler, default_tokenizer):
    tok = lambda s: default_tokenizer.encode(s, add_special_tokens=False)  # noqa: E731
    req = _req(compiler, r"SELECT (name|age) FROM [a-z]+;")
    jump_forward_at_start(req, default_tokenizer)
    (age,) = tok(" age")
    _sample(req, age)
    added = try_jump_forward(req, default_tokenizer, set())
    text = default_tokenizer.decode(req.output_ids)
    assert text == "SELECT age FROM", text  # " FROM " forced; its trailing space left to the model
    assert added == len(req.output_ids) - len(tok("SELECT")) - 1
    assert req.output_ids == tok("SELECT age FROM")
    assert req.decoding is False


def test_jump_to_the_end_keeps_every_forced_token(compiler, default_tokenizer):
    tok = lambda s: default_tokenizer.encode(s, add_special_tokens=False)  # noqa: E731
    req = _req(compiler, r"SELECT (name|age) FROM users;")
    jump_forward_at_start(req, default_tokenizer)
    _sample(req, tok(" name")[0])
    try_jump_forward(req, default_tokenizer, set())
    assert req.output_ids == tok("SELECT name FROM users;")
    assert req.grammar.is_finished() or req.grammar.jump_forward_bytes() == b""


def test_max_new_tokens_caps_the_start_jump(compiler, default_tokenizer):
    req = _req(compiler, r"The quick brown fox jumps over the lazy dog\.", max_new_tokens=3)
    jump_forward_at_start(req, default_tokenizer)
    assert len(req.output_ids) <= 2  # one token is always left to sample
