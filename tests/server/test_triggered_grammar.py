"""The structural-tag (triggered) grammar on a hand-made vocabulary, token by token, checked
against a brute-force reference over the finite language of its structures."""
from __future__ import annotations

import json
import random

import pytest
import torch

from sglike.grammar import GrammarCompiler, Vocabulary
from sglike.grammar.structural.tag import StructuralTag
from sglike.grammar.structural.token_index import TokenIndex
from sglike.grammar.structural.triggered import TriggeredGrammar
from sglike.runtime.sampling_params import SamplingParams

TOKENS = ["<eos>", "<", "t", ">", "<t>", "<t", "t>", "x", "y", " ", "a", "b", "=", "a=", "b=", "<t>a", ">a=",
          '"', '"a', 'b"', '"ab"', '"b"', '"}', "{", "}", ":", "1", "2", '{"', '":', "\n", "/", "</",
          "</t>", "\n</t>", '"</', "}\n", '"ab"<', "1}", "t>b", "> ", "x<t", "a=\"b\"</t>"]
EOS = 0
TAG = {"triggers": ["<t>"], "structures": [
    {"begin": "<t>a=", "schema": {"enum": ["ab", "b"]}, "end": "</t>"},
    {"begin": "<t>b=", "schema": {"type": "object", "properties": {"a": {"enum": [1, 2]}}, "required": ["a"],
                                   "additionalProperties": False}, "end": "\n</t>"}]}
# every JSON text each schema allows (compact whitespace)
VALUES = [['"ab"', '"b"'], ['{"a":1}', '{"a":2}']]


@pytest.fixture(scope="module")
def grammar() -> TriggeredGrammar:
    vocab = Vocabulary.from_tokens(TOKENS, eos_ids=[EOS])
    compiler = GrammarCompiler(vocab, cache_dir=False)
    tag = StructuralTag.parse(TAG)
    return TriggeredGrammar(tag, [compiler.compile_json_schema(s.schema) for s in tag.structures], TokenIndex(vocab))


BIG = 10**9
WHOLE = [(st["begin"], v, st["end"]) for st, vs in zip(TAG["structures"], VALUES) for v in vs]


def sections(text: str) -> list[tuple[int, int, int, int]] | None:
    """Reference parse: (start, value start, value end, end) of each structure in ``text``,
    or None when ``text`` is not a prefix of the language. Ends not yet in the text are BIG."""
    out, pos = [], 0
    while (at := text.find("<t>", pos)) >= 0:
        rest = text[at:]
        done = [w for w in WHOLE if rest.startswith("".join(w))]
        if done:
            b, v, e = done[0]
            out.append((at, at + len(b), at + len(b) + len(v), at + len(b) + len(v) + len(e)))
            pos = out[-1][3]
            continue
        live = [w for w in WHOLE if "".join(w).startswith(rest)]
        if not live:
            return None
        value_end = min((len(b) + len(v) for b, v, _ in live if len(b) + len(v) <= len(rest)), default=None)
        return out + [(at, at + len(live[0][0]), BIG if value_end is None else at + value_end, BIG)]
    return out


def reference_mask(text: str) -> torch.Tensor:
    """Tokens that keep ``text`` a prefix of the language, minus the one split the grammar
    leaves out: a token that goes on from inside a JSON value (or its very start, once the
    begin text is done) past the value's end into the end text. EOS only outside structures."""
    row = torch.zeros(len(TOKENS), dtype=torch.bool)
    row[EOS] = not any(start < len(text) < end for start, _, _, end in sections(text) or [])
    n = len(text)
    for i, tok in enumerate(TOKENS[1:], 1):
        secs = sections(text + tok)
        row[i] = secs is not None and not any(a <= n < b < n + len(tok) for _, a, b, _ in secs)
    return row


def reference_accepts(text: str) -> bool:
    secs = sections(text)
    return secs is not None and all(end <= len(text) for *_, end in secs)


def test_free_text_allows_everything(grammar):
    m = grammar.matcher()
    assert m.allowed_tokens().all()
    for tok in ("x", "y", " ", "<eos>", "}", "t", "<", "x"):
        assert m.advance(TOKENS.index(tok))
    assert m.allowed_tokens().all() and not m.is_finished()


def test_after_trigger_only_the_structure(grammar):
    m = grammar.matcher()
    for tok in ("x", "<t>"):
        assert m.advance(TOKENS.index(tok))
    allowed = {TOKENS[i] for i in m.allowed_tokens().nonzero().flatten().tolist()}
    assert allowed == {"a", "b", "a=", "b=", 'a="b"</t>'}
    assert not m.advance(EOS) and not m.advance(TOKENS.index("x"))
    for tok in ("a=", '"ab"', "</t>"):
        assert m.advance(TOKENS.index(tok)), tok
    assert m.allowed_tokens().all()  # free again after the end tag
    assert m.advance(TOKENS.index("<t")) and m.advance(TOKENS.index(">"))  # a trigger across tokens
    assert not m.advance(TOKENS.index("x"))


def test_tokens_straddling_phases(grammar):
    m = grammar.matcher()
    assert m.advance(TOKENS.index("x<t"))
    assert not m.allowed_tokens()[TOKENS.index("> ")]  # trigger done, then text no begin has
    assert m.advance(TOKENS.index(">a="))  # trigger end + begin text in one token
    assert not m.allowed_tokens()[TOKENS.index('"ab"<')]  # value + end text: the split left out
    assert m.advance(TOKENS.index('"ab"')) and m.advance(TOKENS.index("<"))
    assert m.jump_forward_bytes() == b"/t>"
    m = grammar.matcher()
    assert m.advance(TOKENS.index("<t>")) and m.advance(TOKENS.index('a="b"</t>'))  # a whole section
    assert m.allowed_tokens().all()


def test_rollback_and_copy(grammar):
    m = grammar.matcher()
    seq = ["y", "<t>", "b=", '{"', "a", '":', "2", "}", "\n</t>", "x"]
    masks = [m.allowed_tokens()]
    for tok in seq:
        assert m.advance(TOKENS.index(tok)), tok
        masks.append(m.allowed_tokens())
    for k in range(len(seq), 0, -1):
        clone = m.copy()
        m.rollback(1)
        assert torch.equal(m.allowed_tokens(), masks[k - 1]), k
        assert torch.equal(clone.allowed_tokens(), masks[k]), k  # the copy is independent
    with pytest.raises(ValueError):
        m.rollback(1)


def test_jump_forward(grammar):
    m = grammar.matcher()
    assert m.jump_forward_bytes() == b""
    assert m.advance(TOKENS.index("<t>"))
    assert m.jump_forward_bytes() == b""  # two begins differ here
    assert m.advance(TOKENS.index("b"))
    assert m.jump_forward_bytes() == b"="  # the rest of the begin text
    assert m.advance(TOKENS.index("="))
    assert m.jump_forward_bytes() == b'{"a":'  # the schema's forced bytes
    for tok in ('{"', "a", '":', "1", "}"):
        assert m.advance(TOKENS.index(tok))
    assert m.jump_forward_bytes() == b"\n</t>"  # value done: the end text


def test_random_walks_match_reference(grammar):
    rng = random.Random(0)
    for _ in range(150):
        m, text = grammar.matcher(), ""
        for _ in range(rng.randint(1, 30)):
            mask, ref = m.allowed_tokens(), reference_mask(text)
            assert torch.equal(mask, ref), (text, [TOKENS[i] for i in (mask ^ ref).nonzero().flatten()])
            tok = rng.choice(mask.nonzero().flatten().tolist())
            assert m.advance(tok)
            text += TOKENS[tok] if tok != EOS else ""
        assert grammar.accepts(text) == reference_accepts(text), text


def test_eos_only_in_free_text(grammar):
    m = grammar.matcher()
    assert m.allowed_tokens()[EOS]
    for tok in ("<t>", "a=", '"b"', "</", "t>"):
        assert m.advance(TOKENS.index(tok))
        assert m.allowed_tokens()[EOS] == (tok == "t>"), tok


@pytest.mark.parametrize("tag,field", [
    ({"structures": []}, "structures"),
    ({"structures": [{"begin": "", "schema": {}}]}, "structures[0].begin"),
    ({"structures": [{"begin": "<a>", "schema": 3}]}, "structures[0].schema"),
    ({"structures": [{"begin": "<a>", "schema": {}, "end": 1}]}, "structures[0].end"),
    ({"structures": [{"begin": "<a>", "schema": {}}], "triggers": ["<b>"]}, "does not start with any trigger"),
    ({"structures": [{"begin": "<a>", "schema": {}}], "triggers": ["<a", "<a>"]}, "triggers"),
    ({"structures": [{"begin": "<a>x", "schema": {}}, {"begin": "<a>xy", "schema": {}}], "triggers": ["<a>"]},
     "prefix"),
    ("{not json", "not valid JSON"),
    ({"structures": [{"begin": "<a>", "schema": {}, "extra": 1}]}, "unknown"),
])
def test_bad_tags_name_the_field(tag, field):
    with pytest.raises(ValueError, match="structural_tag") as info:
        SamplingParams.from_dict({"structural_tag": tag})
    assert field in str(info.value)


def test_at_most_one_constraint():
    with pytest.raises(ValueError, match="at most one"):
        SamplingParams.from_dict({"structural_tag": TAG, "regex": "a"})
    sp = SamplingParams.from_dict({"structural_tag": TAG})
    assert sp.constraint == ("structural_tag", json.dumps(TAG))
