"""Constrained decoding: regex, JSON Schema and CFG grammars -> per-token masks."""
from .base import CompiledGrammar, GrammarMatcher
from .compiler import GrammarCompiler
from .errors import GrammarError
from .vocab import Vocabulary

__all__ = ["GrammarCompiler", "GrammarError", "Vocabulary", "CompiledGrammar", "GrammarMatcher"]
