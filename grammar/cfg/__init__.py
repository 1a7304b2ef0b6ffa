"""Context-free grammar constrained decoding (Lark or GBNF/EBNF syntax) over bytes."""
from __future__ import annotations

from ..vocab import Vocabulary
from .gbnf import is_gbnf, parse_gbnf
from .ir import Cfg
from .lark_frontend import parse_lark
from .lower import lower
from .matcher import CfgMatcher, CompiledCfg
from .terminal import warm_terminals

__all__ = ["compile_cfg", "parse_cfg", "CompiledCfg", "CfgMatcher"]

PRECOMPUTE_SECONDS = 1.0  # compile-time budget for mask parts (~0.04 s for the bench grammars)
WARM_SECONDS = 0.02  # compile-time budget for building terminals' NFAs (terminal.warm_terminals)


def parse_cfg(text: str) -> Cfg:
    """Parse Lark or GBNF text (GBNF when a line reads `name ::= ...`) into the byte-level CFG."""
    rules, start = parse_gbnf(text) if is_gbnf(text) else parse_lark(text)
    return lower(rules, start)


def compile_cfg(text: str, vocab: Vocabulary, precompute_seconds: float = PRECOMPUTE_SECONDS,
                warm_seconds: float = WARM_SECONDS) -> CompiledCfg:
    """Compile grammar `text` for `vocab`, its terminals' NFAs built within `warm_seconds`
    and the reachable mask parts precomputed within `precompute_seconds` (0: all lazy);
    raises GrammarError on invalid/unsupported input."""
    g = CompiledCfg(parse_cfg(text), vocab)
    warm_terminals(g.cfg.terminals, warm_seconds)
    if precompute_seconds > 0:
        g.precompute_masks(precompute_seconds)
    return g
