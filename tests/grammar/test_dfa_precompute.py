"""Parity of the precomputed (batched) DFA masks with the lazy per-state walk, its reference
twin: on the tiny and the real 49k vocabulary, through the disk cache and a cut budget.
The batch needs the complete DFA: the tests wait for the precompute, which completes it."""
from __future__ import annotations

import numpy as np
import pytest

from sglike.grammar import GrammarCompiler
from sglike.grammar.masks import dfa_masks_batch as batch
from sglike.grammar.masks.token_masks import dfa_token_mask
from sglike.grammar.regex import dfa_grammar
from sglike.grammar.regex.dfa_grammar import DFAGrammar

TINY_PATTERNS = [r"[a-c]+\d{2}", r"(ab|é)*x", r"[^a]{1,3}", r"(?s).\n?", r'\{"[a-z]{0,4}":(true|12)\}']
REAL_PATTERNS = [r"\d{1,4}(\.\d{1,2})?", r"[a-z]{1,30}@[a-z]+\.(com|org)", r"(?s).{0,40}",
                 r'\{"name": "[A-Za-z ]{1,12}", "age": \d{1,3}\}']
SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 10}, "email": {"type": "string", "format": "email"},
    "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["name"]}


@pytest.fixture(autouse=True)
def _no_time_cut(monkeypatch):
    """Parity checks want every state precomputed, even on a busy machine."""
    monkeypatch.setattr(dfa_grammar, "PRECOMPUTE_SECONDS", 60.0)


def lazy_twin(g: DFAGrammar) -> DFAGrammar:
    return DFAGrammar(g.dfa, g.vocab, g.trie, None, precompute_states=0)


def assert_same_masks(g: DFAGrammar) -> None:
    assert g.wait_precomputed(60)
    assert len(g._row_of) == g.dfa.num_states  # every state precomputed
    lazy = lazy_twin(g)
    for s in range(g.dfa.num_states):
        assert np.array_equal(g.mask(s).numpy(), lazy.mask(s).numpy()), s


@pytest.mark.parametrize("pattern", TINY_PATTERNS)
def test_precomputed_masks_match_lazy_tiny(tiny_compiler, pattern):
    assert_same_masks(tiny_compiler.compile_regex(pattern))


@pytest.mark.parametrize("pattern", REAL_PATTERNS)
def test_precomputed_masks_match_lazy_real(real_compiler, pattern):
    assert_same_masks(real_compiler.compile_regex(pattern))


def test_precomputed_schema_masks_match_lazy(real_compiler):
    assert_same_masks(real_compiler.compile_json_schema(SCHEMA))


def test_sparse_and_dense_walks_agree_with_reference(real_compiler):
    g = real_compiler.compile_regex(r"[a-z ]{0,6}(,[0-9]+)?")
    assert g.wait_precomputed(60)
    states, trans = np.arange(g.dfa.num_states), g.dfa.snapshot().trans
    sparse = batch.sparse_masks(g.trie, trans, states)
    dense = batch.dense_masks(g.trie, trans, states)
    assert sparse is not None and np.array_equal(sparse, dense)
    for s in states:
        ref = dfa_token_mask(g.trie, g.dfa, int(s))
        assert np.array_equal(np.unpackbits(dense[s], count=g.trie.size).astype(bool), ref)


def test_sparse_walk_gives_up_on_too_many_pairs(real_compiler, monkeypatch):
    g = real_compiler.compile_regex(r"(?s).{0,8}")
    assert g.wait_precomputed(60)
    monkeypatch.setattr(batch, "MAX_PAIRS", 100)
    assert batch.sparse_masks(g.trie, g.dfa.snapshot().trans, np.arange(g.dfa.num_states)) is None
    monkeypatch.setattr(batch, "CHUNK", 3)  # narrow states fall back to dense walks
    monkeypatch.setattr(batch, "wide_states", lambda trie, table, s: np.zeros(len(s), bool))
    assert_same_masks(DFAGrammar(g.dfa, g.vocab, g.trie, None))


def test_time_budget_leaves_the_rest_lazy(tiny_vocab, monkeypatch):
    monkeypatch.setattr(batch, "CHUNK", 2)
    monkeypatch.setattr(batch, "FIRST_CHUNK", 2)
    monkeypatch.setattr(dfa_grammar, "PRECOMPUTE_SECONDS", 0.0)
    g = GrammarCompiler(tiny_vocab, cache_dir=False).compile_regex(r"[a-c]{2,6}x")
    assert g.wait_precomputed(60)
    assert len(g._row_of) == 2 < g.dfa.num_states  # one chunk, then out of time
    lazy = lazy_twin(g)
    for s in range(g.dfa.num_states):
        assert np.array_equal(g.mask(s).numpy(), lazy.mask(s).numpy()), s


def test_large_dfa_stays_lazy(tiny_vocab):
    g = GrammarCompiler(tiny_vocab, cache_dir=False).compile_regex(r"[a-c]{2,6}x")
    assert g.wait_precomputed(60)
    small = DFAGrammar(g.dfa, g.vocab, g.trie, None, precompute_states=g.dfa.num_states - 1)
    assert len(small._row_of) == 0
    assert np.array_equal(small.mask(1).numpy(), g.mask(1).numpy())


def test_disk_cache_holds_all_states_in_one_file(tiny_vocab, tmp_path):
    g1 = GrammarCompiler(tiny_vocab, cache_dir=tmp_path).compile_regex(r"(ab|é)*x")
    assert g1.wait_precomputed(60)
    assert len(list(tmp_path.rglob("masks.npz"))) == 1 and not list(tmp_path.rglob("mask_*.npy"))
    g2 = GrammarCompiler(tiny_vocab, cache_dir=tmp_path).compile_regex(r"(ab|é)*x")
    assert np.array_equal(g2._row_of, g1._row_of) and np.array_equal(g2._rows, g1._rows)
    for s in range(g1.dfa.num_states):
        assert np.array_equal(g2.mask(s).numpy(), g1.mask(s).numpy())


def test_background_precompute_matches_lazy_while_running(real_compiler):
    """Masks asked for while the worker still runs (lazy walks) equal the precomputed ones."""
    g = real_compiler.compile_regex(r"[a-z]{1,12}(-[0-9]{1,3})?")
    early = {s: g.mask(s).numpy().copy() for s in range(min(4, g.dfa.num_states))}
    assert g.wait_precomputed(60) and len(g._row_of) == g.dfa.num_states
    fresh = lazy_twin(g)
    for s, m in early.items():
        assert np.array_equal(m, fresh.mask(s).numpy()), s
    for s in range(g.dfa.num_states):  # rows published early never stand for later rows
        assert np.array_equal(g.mask(s).numpy(), fresh.mask(s).numpy()), s


def test_full_worker_queue_leaves_grammars_lazy(tiny_vocab, monkeypatch):
    from sglike.grammar.regex import mask_worker
    monkeypatch.setattr(mask_worker, "MAX_PENDING", 0)
    g = GrammarCompiler(tiny_vocab, cache_dir=False).compile_regex(r"[a-c]{2,6}y")
    assert g.wait_precomputed(0) and len(g._row_of) == 0  # skipped at once: all lazy
    lazy = lazy_twin(g)
    for s in range(g.dfa.num_states):
        assert np.array_equal(g.mask(s).numpy(), lazy.mask(s).numpy()), s


def test_precompute_waits_until_the_grammar_is_reused(tiny_vocab):
    """One-off grammars never spend the background precompute; a reused one gets it."""
    g = GrammarCompiler(tiny_vocab, cache_dir=False).compile_regex(r"[a-c]{2,6}z")
    first = g.matcher()
    assert first.allowed_tokens().any() and not g._queued and not g._ready.is_set()
    g.matcher()  # the second request: queued now
    assert g._queued and g._ready.wait(60) and len(g._row_of) == g.dfa.num_states


def test_cfg_precompute_waits_until_the_grammar_is_reused(tiny_vocab):
    g = GrammarCompiler(tiny_vocab, cache_dir=False).compile_grammar('root ::= "a" [b-c]+ "d"')
    g.matcher().allowed_tokens()
    assert g._deferred is not None and not g._precomputed.is_set()
    g.matcher()
    assert g._deferred is None and g._precomputed.wait(60)
