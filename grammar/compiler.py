"""GrammarCompiler: the one entry point turning regex / JSON Schema / CFG text into grammars."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .base import CompiledGrammar
from .errors import GrammarError
from .masks.token_trie import trie_for
from .regex.byte_dfa import ByteDFA, regex_to_byte_dfa
from .regex.dfa_grammar import DFAGrammar, cache_key, save_atomic
from .regex.syntax import translate
from .vocab import Vocabulary

DEFAULT_CACHE_DIR = Path(os.path.expanduser("~/.cache/sglike/grammar"))


class GrammarCompiler:
    """Compiles grammars for one vocabulary; results are cached in memory (and DFAs and masks
    on disk under `cache_dir`; pass `cache_dir=False` to disable the disk cache)."""

    def __init__(self, tokenizer_or_vocab: Any, cache_dir: str | Path | None | bool = None):
        if isinstance(tokenizer_or_vocab, Vocabulary):
            self.vocab = tokenizer_or_vocab
        else:
            self.vocab = Vocabulary.from_tokenizer(tokenizer_or_vocab)
        if cache_dir is False:
            self.cache_dir = None
        else:
            self.cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR
        self.trie = trie_for(self.vocab)  # shared by regex and CFG masks
        self._cache: dict[tuple, CompiledGrammar] = {}
        self._lock = threading.Lock()

    def compile_regex(self, pattern: str) -> CompiledGrammar:
        """Full-match a Python-`re`-style pattern (see regex.syntax for the subset)."""
        if not isinstance(pattern, str):
            raise GrammarError(f"regex must be a string, got {type(pattern).__name__}")
        return self._cached(("regex", pattern), lambda: self._dfa_grammar("regex", translate(pattern)))

    def compile_json_schema(self, schema: Any, whitespace: str = "compact") -> CompiledGrammar:
        """JSON Schema (dict, JSON text or pydantic model class) -> grammar of JSON texts."""
        from .json_schema import schema_to_grammar, normalize_schema_input

        schema = normalize_schema_input(schema)
        key = ("json", json.dumps(schema, sort_keys=True), whitespace)

        def build() -> CompiledGrammar:
            kind, text = schema_to_grammar(schema, whitespace=whitespace)
            if kind == "regex":
                return self._dfa_grammar("json", text)
            return self._compile_cfg(text, "recursive schema")

        return self._cached(key, build)

    def compile_grammar(self, text: str) -> CompiledGrammar:
        """A Lark or GBNF/EBNF grammar (handled by sglike.grammar.cfg)."""
        return self._cached(("cfg", text), lambda: self._compile_cfg(text, "grammar"))

    # -- helpers ---------------------------------------------------------------------------

    def _cached(self, key: tuple, build) -> CompiledGrammar:
        with self._lock:
            g = self._cache.get(key)
        if g is None:
            g = build()
            with self._lock:
                g = self._cache.setdefault(key, g)
        return g

    def _compile_cfg(self, text: str, what: str) -> CompiledGrammar:
        try:
            from .cfg import compile_cfg
        except ImportError as e:
            raise GrammarError(f"{what}: context-free grammars need sglike.grammar.cfg, "
                               f"which is not available ({e})") from None
        return compile_cfg(text, self.vocab)

    def _dfa_grammar(self, kind: str, regex: str) -> DFAGrammar:
        folder = None
        if self.cache_dir is not None:
            folder = self.cache_dir / cache_key(kind, regex, self.vocab)
        dfa = _load_dfa(folder)
        if dfa is None:
            dfa = regex_to_byte_dfa(regex)
            if folder is not None:
                try:
                    save_atomic(folder / "dfa.npz", {"trans": dfa.trans, "accepting": dfa.accepting})
                except OSError:
                    pass
        return DFAGrammar(dfa, self.vocab, self.trie, folder)


def _load_dfa(folder: Path | None) -> ByteDFA | None:
    if folder is None or not (folder / "dfa.npz").exists():
        return None
    try:
        with np.load(folder / "dfa.npz") as z:
            return ByteDFA(z["trans"], z["accepting"], 0)
    except (OSError, ValueError, KeyError):
        return None
