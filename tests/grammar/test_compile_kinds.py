"""`GrammarCompiler.compile(kind, source)`: the registry of constraint kinds behind the one
entry the runtime calls, on the tiny vocabulary."""
from __future__ import annotations

import json

import pytest

from sglike.grammar import GrammarCompiler, GrammarError
from sglike.grammar.compiler import KINDS

TAG = {"structures": [{"begin": "<f>", "schema": {"type": "integer"}, "end": "</f>"}], "triggers": ["<f>"]}


def test_the_four_request_kinds_are_registered():
    assert list(KINDS) == ["regex", "json_schema", "ebnf", "structural_tag"]


@pytest.mark.parametrize("kind, source, good, bad", [
    ("regex", r"a[bc]\d", "ab1", "ad1"),
    ("json_schema", json.dumps({"type": "object", "properties": {"x": {"type": "boolean"}}, "required": ["x"]}),
     '{"x":true}', '{"x":1}'),
    ("ebnf", 'root ::= "a" root | "b"', "aab", "aa"),
    ("structural_tag", json.dumps(TAG), "hi <f>12</f> ok", "hi <f>x</f>"),
])
def test_each_kind_compiles_its_language(tiny_compiler, kind, source, good, bad):
    g = tiny_compiler.compile(kind, source)
    assert g.accepts(good) and not g.accepts(bad)
    assert tiny_compiler.compile(kind, source) is g  # cached like the named methods


def test_named_methods_and_the_entry_agree(tiny_compiler):
    assert tiny_compiler.compile("regex", "x+") is tiny_compiler.compile_regex("x+")
    assert tiny_compiler.compile("ebnf", 'root ::= "y"') is tiny_compiler.compile_grammar('root ::= "y"')
    assert tiny_compiler.compile("structural_tag", TAG) is tiny_compiler.compile_structural_tag(json.dumps(TAG))


def test_unknown_kind_names_the_known_ones(tiny_compiler):
    with pytest.raises(GrammarError, match="unknown constraint kind 'lark'.*regex, json_schema, ebnf, structural_tag"):
        tiny_compiler.compile("lark", "start: 'a'")


def test_structural_tag_errors_are_grammar_errors(tiny_compiler):
    with pytest.raises(GrammarError, match=r"structures\[0\]\.schema"):
        tiny_compiler.compile("structural_tag", {"structures": [{"begin": "<f>", "schema": {"type": "nope"}}]})
    with pytest.raises(GrammarError, match="triggers must be non-empty strings"):
        tiny_compiler.compile("structural_tag", {"structures": [{"begin": "<f>", "schema": {}}], "triggers": [""]})


def test_the_token_index_is_built_once(tiny_compiler):
    a = tiny_compiler.compile("structural_tag", TAG)
    b = tiny_compiler.compile("structural_tag", {**TAG, "triggers": ["<"]})
    assert a is not b and a.index is b.index is tiny_compiler.token_index


def test_memory_cache_keeps_the_most_recently_used(tiny_vocab, monkeypatch):
    from sglike.grammar import compiler
    monkeypatch.setattr(compiler, "MAX_CACHED", 2)
    gc = GrammarCompiler(tiny_vocab, cache_dir=False)
    a, b = gc.compile_regex("a+"), gc.compile_regex("b+")
    assert gc.compile_regex("a+") is a  # a is now the most recent
    gc.compile_regex("c+")  # drops b
    assert gc.compile_regex("a+") is a and gc.compile_regex("b+") is not b
