"""Invalid or unsupported grammars raise GrammarError; tricky-but-valid ones compile."""
from __future__ import annotations

import pytest

from sglike.grammar.cfg import compile_cfg
from sglike.grammar.errors import GrammarError
from sglike.grammar.vocab import Vocabulary

VOCAB = Vocabulary.from_tokens([bytes([b]) for b in range(256)] + [b"<eos>"], eos_ids=[256])


@pytest.mark.parametrize("text, needle", [
    ('root ::= "a" (', "syntax"),
    ('root ::= "a" | ]', "syntax"),
    ('root ::= item\n', "undefined rule 'item'"),
    ('root ::= [z-a]', "range"),
    ('root ::= "a"{3,1}', "repetition"),
    ('root ::= "\\xZZ"', "escape"),
    ('root ::= "a" root', "generates no string"),
    ("start: item", "item"),
    ("start: A\nA: /(?<=x)a/", "lookaround"),
    ('start: "a" (', "Lark"),
    ('expr: "a"', "start"),
])
def test_invalid_grammars_raise(text, needle):
    with pytest.raises(GrammarError) as info:
        compile_cfg(text, VOCAB)
    assert needle.lower() in str(info.value).lower()
    assert isinstance(info.value, ValueError)


def test_left_recursion_nullable_rules_and_empty_alternatives():
    g = compile_cfg('root ::= list\nlist ::= list "," item | item | \nitem ::= "x"? "y"*', VOCAB)
    for text in ["", "x", ",", "x,yy,,xy", "yyy"]:
        assert g.accepts(text), text
    assert not g.accepts("yx")


def test_indirect_left_recursion_in_lark():
    g = compile_cfg('start: a\na: b "+" "1" | "1"\nb: a', VOCAB)
    assert g.accepts("1+1+1") and not g.accepts("1+") and not g.accepts("")


def test_lark_case_insensitive_strings_and_imports():
    g = compile_cfg('start: "select"i WORD\n%import common.WORD\n%import common.WS\n%ignore WS',
                    VOCAB)
    assert g.accepts("SeLeCt  abc ") and g.accepts("selectabc") and not g.accepts("select 1")
