"""stop_regex: generation stops at the first match of any pattern (Python's `re` on the
unconstrained greedy output is the reference), trimmed like a stop string."""
from __future__ import annotations

import re

import pytest

from sglike.runtime.api.stop import find_regex

PROMPT = "The quick brown fox"


def test_find_regex_reports_the_match_that_ends_first():
    text = "abc 12 xyz 345"
    m = find_regex([r"\d{3}", r"\d+"], text)
    assert (m.stop, m.start, m.end) == ("12", 4, 6)
    assert find_regex([r"\d+"], text, new_from=6).stop == "345"  # "12" ended in older text
    assert find_regex([r"q"], text) is None
    assert find_regex([r"x*"], "abc") is None  # empty matches never stop


@pytest.mark.parametrize("pattern", [r"[,.;]", r"\b\w{5}\b", r"o\w"])
def test_engine_stops_at_the_first_match(real_engine, pattern):
    params = {"max_new_tokens": 24, "temperature": 0}
    full = real_engine.generate(PROMPT, params)["text"]
    first = re.search(pattern, full)
    assert first, f"reference output has no match for {pattern!r}: {full!r}"
    out = real_engine.generate(PROMPT, {**params, "stop_regex": [pattern]})
    assert out["text"] == full[: full.find(first.group(0))]
    assert out["meta_info"]["finish_reason"] == {"type": "stop", "matched": first.group(0)}
    kept = real_engine.generate(PROMPT, {**params, "stop_regex": [pattern], "no_stop_trim": True})
    # untrimmed: the output runs to the end of the token that completed the match
    assert kept["text"].startswith(full[: first.end()]) and full.startswith(kept["text"])
