"""GrammarCompiler: the one entry point turning regex / JSON Schema / CFG / structural-tag
sources into grammars; `KINDS` is the registry of constraint kinds behind `compile`."""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .base import CompiledGrammar
from .budget import DEFAULT_COMPILE_BUDGET_S, compile_budget
from .errors import GrammarError
from .gc_pause import gc_paused
from .masks.token_trie import trie_for
from .regex.byte_dfa import ByteDFA
from .regex.dfa_grammar import DFAGrammar, cache_key
from .regex.lazy_dfa import regex_to_lazy_dfa
from .regex.syntax import translate
from .structural.compile import triggered_grammar
from .structural.tag import StructuralTag
from .structural.token_index import TokenIndex
from .vocab import Vocabulary

DEFAULT_CACHE_DIR = Path(os.path.expanduser("~/.cache/sglike/grammar"))
MAX_CACHED = 256  # compiled grammars kept in memory (least recently used dropped first)


class GrammarCompiler:
    """Compiles grammars for one vocabulary; results are cached in memory (the MAX_CACHED most
    recently used; and complete DFAs with their masks on disk under `cache_dir`; pass
    `cache_dir=False` to disable the disk cache).

    Each compile gets `compile_budget_s` seconds (None: no limit) to turn its source into
    an NFA or CFG; past that it raises GrammarError("grammar too large ...") instead of
    running on (mask precomputation has budgets of its own and is not counted). A regex or
    JSON-schema grammar is ready as soon as its NFA is: DFA states and their masks are
    built on first visit, while a background worker (`background_precompute`) completes
    small DFAs and precomputes their masks; a CFG's reachable mask parts are warmed on the
    same worker (False: both in the foreground, within their own time budgets)."""

    def __init__(self, tokenizer_or_vocab: Any, cache_dir: str | Path | None | bool = None, *,
                 compile_budget_s: float | None = DEFAULT_COMPILE_BUDGET_S,
                 background_precompute: bool = True):
        self.compile_budget_s = compile_budget_s
        self.background_precompute = background_precompute
        if isinstance(tokenizer_or_vocab, Vocabulary):
            self.vocab = tokenizer_or_vocab
        else:
            self.vocab = Vocabulary.from_tokenizer(tokenizer_or_vocab)
        if cache_dir is False:
            self.cache_dir = None
        else:
            self.cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR
        self.trie = trie_for(self.vocab)  # shared by regex and CFG masks
        from . import json_schema  # noqa: F401 - ~0.1 s of imports here, not in a first compile
        try:
            from . import cfg  # noqa: F401 - lark too (~0.1 s)
        except ImportError:
            pass  # CFG kinds then fail with a GrammarError naming why (_compile_cfg)
        self._cache: OrderedDict[tuple, CompiledGrammar] = OrderedDict()  # LRU, MAX_CACHED
        self._lock = threading.Lock()
        self._token_index: TokenIndex | None = None

    def compile(self, kind: str, source: Any, **options: Any) -> CompiledGrammar:
        """Compile a request constraint by kind name (see `KINDS`), with the kind's keyword
        options (json_schema: whitespace, key_order); GrammarError for an unknown kind,
        naming the known ones."""
        build = KINDS.get(kind)
        if build is None:
            raise GrammarError(f"unknown constraint kind {kind!r}; known kinds: {', '.join(KINDS)}")
        return build(self, source, **options)

    def compile_regex(self, pattern: str) -> CompiledGrammar:
        """Full-match a Python-`re`-style pattern (see regex.syntax for the subset)."""
        if not isinstance(pattern, str):
            raise GrammarError(f"regex must be a string, got {type(pattern).__name__}")
        return self._cached(("regex", pattern), lambda: self._dfa_grammar("regex", translate(pattern)))

    def compile_json_schema(self, schema: Any, whitespace: str = "compact",
                            key_order: str = "schema") -> CompiledGrammar:
        """JSON Schema (dict, JSON text or pydantic model class) -> grammar of JSON texts.
        `whitespace`: "compact" or "flexible"; `key_order`: "schema" (declared properties in
        schema order) or "any" (each at most once, in any order)."""
        from .json_schema import schema_to_grammar, normalize_schema_input

        schema = normalize_schema_input(schema)
        key = ("json", json.dumps(schema, sort_keys=True), whitespace, key_order)

        def build() -> CompiledGrammar:
            kind, text = schema_to_grammar(schema, whitespace=whitespace, key_order=key_order)
            if kind == "regex":
                return self._dfa_grammar("json", text)
            return self._compile_cfg(text, "recursive schema")

        return self._cached(key, build)

    def compile_grammar(self, text: str) -> CompiledGrammar:
        """A Lark or GBNF/EBNF grammar (handled by sglike.grammar.cfg)."""
        return self._cached(("cfg", text), lambda: self._compile_cfg(text, "grammar"))

    def compile_structural_tag(self, tag: Any) -> CompiledGrammar:
        """A ``structural_tag`` (JSON text or dict, see structural.tag): free text whose
        triggered sections follow their structure's JSON schema."""
        parsed = StructuralTag.parse(tag)
        return self._cached(("structural_tag", parsed.to_json()),
                            lambda: triggered_grammar(parsed, self.compile_json_schema, self.token_index))

    @property
    def token_index(self) -> TokenIndex:
        """Byte lookups over the vocabulary for structural tags, built on first use."""
        with self._lock:
            if self._token_index is None:
                self._token_index = TokenIndex(self.vocab)
            return self._token_index

    # -- helpers ---------------------------------------------------------------------------

    def _cached(self, key: tuple, build) -> CompiledGrammar:
        with self._lock:
            g = self._cache.get(key)
            if g is not None:
                self._cache.move_to_end(key)
        if g is None:
            try:
                with gc_paused(), compile_budget(self.compile_budget_s):
                    g = build()
            except RecursionError:  # a safety net: the IR's walks recurse by nesting depth
                raise GrammarError("grammar too large: nested too deeply to compile") from None
            with self._lock:
                g = self._cache.setdefault(key, g)
                while len(self._cache) > MAX_CACHED:  # a grammar holds its NFA and masks
                    self._cache.popitem(last=False)
        return g

    def _compile_cfg(self, text: str, what: str) -> CompiledGrammar:
        try:
            from .cfg import PRECOMPUTE_SECONDS, compile_cfg
        except ImportError as e:
            raise GrammarError(f"{what}: context-free grammars need sglike.grammar.cfg, "
                               f"which is not available ({e})") from None
        if not self.background_precompute:
            return compile_cfg(text, self.vocab)
        g = compile_cfg(text, self.vocab, precompute_seconds=0)  # ready now, masks lazy...
        g.precompute_in_background(PRECOMPUTE_SECONDS)  # ...warmed once the grammar is reused
        return g

    def _dfa_grammar(self, kind: str, regex: str) -> DFAGrammar:
        folder = None
        if self.cache_dir is not None:
            folder = self.cache_dir / cache_key(kind, regex, self.vocab)
        dfa = _load_dfa(folder)  # a complete DFA saved with its masks by an earlier compile
        if dfa is None:
            dfa = regex_to_lazy_dfa(regex)  # only the NFA: states are built on demand
        return DFAGrammar(dfa, self.vocab, self.trie, folder, background=self.background_precompute)


KINDS: dict[str, Callable[[GrammarCompiler, Any], CompiledGrammar]] = {
    "regex": GrammarCompiler.compile_regex,
    "json_schema": GrammarCompiler.compile_json_schema,
    "ebnf": GrammarCompiler.compile_grammar,
    "structural_tag": GrammarCompiler.compile_structural_tag,
}


def _load_dfa(folder: Path | None) -> ByteDFA | None:
    if folder is None or not (folder / "dfa.npz").exists():
        return None
    try:
        with np.load(folder / "dfa.npz") as z:
            return ByteDFA(z["trans"], z["accepting"], 0)
    except (OSError, ValueError, KeyError):
        return None
