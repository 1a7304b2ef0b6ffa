"""Decimal bounds on `number`: every accepted text parses to a float inside the bounds (as a
validator such as `jsonschema` sees it), and plain in-range decimals are accepted."""
from __future__ import annotations

import json
import re
from decimal import Decimal

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from sglike.grammar.json_schema.numbers import number_range

_bound = st.one_of(st.none(), st.integers(-300, 300),
                   st.decimals(-300, 300, places=3).map(float),
                   st.sampled_from([0.1, 0.5, -0.5, 1.0, 78.55, 99999999999.99, 1e-7]))
_text = st.one_of(
    st.integers(-400, 400).map(str),
    st.decimals(-400, 400, places=4).map(lambda d: format(d, "f")),
    st.sampled_from(["0.1", "0.10000000000000001", "0.9999999999999999999", "-0", "-0.0", "1e2",
                     "78.55", "78.550", "78.5499999", "99999999999.99", "1.0000000000000000001"]))


def _inside(x: float, lo, lo_x: bool, hi, hi_x: bool) -> bool:
    if lo is not None and (x <= lo if lo_x else x < lo):
        return False
    return hi is None or (x < hi if hi_x else x <= hi)


@settings(max_examples=400, deadline=None)
@given(lo=_bound, hi=_bound, lo_x=st.booleans(), hi_x=st.booleans(), texts=st.lists(_text, max_size=12))
def test_accepted_numbers_are_inside_the_bounds(lo, hi, lo_x, hi_x, texts):
    try:
        rx = re.compile(number_range(lo, lo_x, hi, hi_x))
    except ValueError:  # GrammarError: the bounds leave no value
        assert lo is not None and hi is not None and lo >= hi
        return
    for t in texts:
        value = json.loads(t)
        if rx.fullmatch(t):
            assert _inside(value, lo, lo_x, hi, hi_x), (t, lo, lo_x, hi, hi_x)
        elif "e" not in t and not t.startswith("-0") and _inside(float(Decimal(t)), lo, lo_x, hi, hi_x):
            # a plain decimal strictly inside by a safe margin must be accepted
            margin = [abs(Decimal(t) - Decimal(repr(float(b)))) for b in (lo, hi) if b is not None]
            assert min(margin, default=Decimal(1)) < Decimal("1e-12") or t != t.strip(), (t, lo, hi)


def test_schema_level_decimal_bounds():
    from sglike.grammar import GrammarCompiler, Vocabulary
    gc = GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False)
    schema = {"type": "number", "exclusiveMinimum": 0.1, "maximum": 78.55}
    g = gc.compile_json_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    for t in ["0.1", "0.11", "1", "78.55", "78.551", "78.5", "-1", "0.10000000000000001", "80"]:
        assert g.accepts(t) == v.is_valid(json.loads(t)), t
