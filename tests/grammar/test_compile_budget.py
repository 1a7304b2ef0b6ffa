"""The compile budget: a schema too large to compile in time fails fast with a clear
GrammarError instead of running on; without a budget the same code path runs to the end."""
from __future__ import annotations

import time

import pytest

from sglike.grammar import GrammarCompiler, GrammarError, Vocabulary
from sglike.grammar.budget import check, compile_budget

def optional_strings(n: int) -> dict:
    """n optional properties with long bounded strings: a large DFA to build."""
    return {"type": "object", "properties": {f"p{i}": {"type": "string", "maxLength": 60 + i} for i in range(n)}}


BIG = optional_strings(100)


def test_budget_raises_grammar_too_large():
    gc = GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False, compile_budget_s=0.05)
    t = time.perf_counter()
    with pytest.raises(GrammarError, match="grammar too large"):
        gc.compile_json_schema(BIG)
    assert time.perf_counter() - t < 5  # stopped near the budget, not at the end


def test_budget_nests_and_never_extends():
    with compile_budget(0.0):
        with compile_budget(100.0):
            with pytest.raises(GrammarError, match="budget of 0 s"):
                check("testing")
    check("outside any budget")  # no budget: never raises


def test_small_schema_within_budget():
    gc = GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False, compile_budget_s=5)
    assert gc.compile_json_schema({"type": "integer", "minimum": 3}).accepts("17")


def test_a_long_regex_is_refused_before_the_uninterruptible_parse():
    """Python's regex parser cannot be stopped: a pattern it would not finish within the
    budget left is refused up front rather than overrunning the budget."""
    from sglike.grammar.budget import compile_budget
    from sglike.grammar.regex.syntax import translate
    pattern = "(?:" + "|".join(f"k{i}" for i in range(200_000)) + ")"
    with compile_budget(0.5), pytest.raises(GrammarError, match="grammar too large: a regex of"):
        translate(pattern)


def test_rules_too_long_for_the_budget_are_refused_before_lowering():
    """A schema whose CFG rule text could not be lowered within the budget left is refused
    as soon as its rules are known, not after running the budget out."""
    many = {"type": "object", "properties": {f"p{i}": {"type": "string", "format": "date"}
                                             for i in range(500)}}  # rule text ~195 k chars
    gc = GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False, compile_budget_s=1.5)
    t = time.perf_counter()
    with pytest.raises(GrammarError, match="grammar too large: the rules of a schema of"):
        gc.compile_json_schema(many)
    assert time.perf_counter() - t < 1.5  # stopped before the budget ran out


def test_deeply_nested_optional_keys_compile_without_recursion_error():
    """130 optional keys nest 130 optional groups: the NFA size estimate once hashed the deep
    IR (RecursionError out of compile_json_schema); now it compiles and matches."""
    g = GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False).compile_json_schema(optional_strings(130))
    assert g.accepts('{"p0":"x","p129":"y"}') and not g.accepts('{"p129":"y","p0":"x"}')
    assert not g.accepts('{"p0":"' + "x" * 61 + '"}')
