"""Helpers for keyword tests: a byte vocabulary, random instances drawn from a compiled
schema grammar, and the check that a grammar agrees with `jsonschema` (the reference)."""
from __future__ import annotations

import json
import random
from typing import Any

import jsonschema

from sglike.grammar import GrammarCompiler, Vocabulary

EOS = 256


def byte_compiler() -> GrammarCompiler:
    """A compiler over the 256 single bytes plus EOS (id 256): every text is reachable."""
    vocab = Vocabulary.from_tokens([bytes([b]) for b in range(256)] + [b""], eos_ids=[EOS])
    return GrammarCompiler(vocab, cache_dir=False)


def sample(g: Any, rng: random.Random, max_bytes: int = 120) -> str | None:
    """One random text of the grammar (EOS taken with p=0.5 when allowed); None when the
    walk runs past max_bytes or is not UTF-8."""
    m, out = g.matcher(), bytearray()
    while len(out) < max_bytes:
        allowed = m.allowed_tokens().nonzero().flatten().tolist()
        if EOS in allowed and (len(allowed) == 1 or rng.random() < 0.5):
            try:
                return out.decode("utf-8")
            except UnicodeDecodeError:
                return None
        choices = [t for t in allowed if t != EOS]
        t = rng.choice(choices)
        assert m.advance(t)
        out.append(t)
    return None


def check_schema(gc: GrammarCompiler, schema: Any, valid: list[Any], invalid: list[Any],
                 samples: int = 40, seed: int = 0) -> None:
    """The grammar accepts the compact text of every `valid` instance and none of `invalid`
    (both confirmed by jsonschema first), and every sampled text is valid for jsonschema."""
    ref = jsonschema.Draft202012Validator(schema)
    g = gc.compile_json_schema(schema)
    for v in valid:
        assert ref.is_valid(v), v
        assert g.accepts(json.dumps(v, separators=(",", ":"), ensure_ascii=False)), v
    for v in invalid:
        assert not ref.is_valid(v), v
        assert not g.accepts(json.dumps(v, separators=(",", ":"), ensure_ascii=False)), v
    rng = random.Random(seed)
    for _ in range(samples):
        text = sample(g, rng)
        if text is not None:
            assert ref.is_valid(json.loads(text)), text
