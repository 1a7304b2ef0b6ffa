"""The engines `grammar_suites.py` runs side by side on one tokenizer: sglike, llguidance
and xgrammar, each as `compile(schema) -> accepts(text) -> bool` (whole-text membership of
a compact JSON text). Peers that are not installed are left out with a note."""
from __future__ import annotations

import importlib.util
import json
from typing import Any, Callable

Accepts = Callable[[str], bool]


def sglike_engine(vocab_or_tok: Any, budget: float | None) -> Callable[[Any], Accepts]:
    """sglike's compile includes its first token mask (grammars build DFA states and masks
    lazily, so this is the time to the first mask a request waits for)."""
    from sglike.grammar import GrammarCompiler
    gc = GrammarCompiler(vocab_or_tok, cache_dir=False, compile_budget_s=budget)

    def compile_schema(schema: Any) -> Accepts:
        g = gc.compile_json_schema(schema)
        g.matcher().allowed_tokens()
        return g.accepts
    return compile_schema


def llguidance_matcher(lt: Any, schema: Any) -> tuple[Any, Any]:
    """(grammar, a fresh LLMatcher) of a JSON schema in llguidance (compact whitespace, as
    sglike's); ValueError when it does not compile."""
    import llguidance
    g = llguidance.LLMatcher.grammar_from_json_schema(
        json.dumps(schema), defaults={"whitespace_flexible": False})
    m = llguidance.LLMatcher(lt, g)
    if m.is_error():
        raise ValueError(m.get_error())
    return g, m


def llguidance_engine(tok: Any) -> Callable[[Any], Accepts]:
    import llguidance
    import llguidance.hf
    lt = llguidance.hf.from_tokenizer(tok)

    def compile_schema(schema: Any) -> Accepts:
        g, _first = llguidance_matcher(lt, schema)

        def accepts(text: str) -> bool:
            m = llguidance.LLMatcher(lt, g)
            return m.consume_tokens(tok.encode(text, add_special_tokens=False)) and m.is_accepting()
        return accepts
    return compile_schema


def xgrammar_engine(tok: Any) -> Callable[[Any], Accepts]:
    import xgrammar as xgr
    info = xgr.TokenizerInfo.from_huggingface(tok)
    comp = xgr.GrammarCompiler(info, cache_enabled=False)
    stop = info.stop_token_ids[0]

    def compile_schema(schema: Any) -> Accepts:
        cg = comp.compile_json_schema(json.dumps(schema), any_whitespace=False,
                                      strict_mode=False, separators=(",", ":"))

        def accepts(text: str) -> bool:
            m = xgr.GrammarMatcher(cg)
            return bool(m.accept_string(text)) and m.accept_token(stop)
        return accepts
    return compile_schema


def peers(tok: Any) -> dict[str, Callable[[Any], Accepts]]:
    """name -> engine for the installed peers (a note printed for the missing ones)."""
    out = {}
    for name, module, make in (("llguidance", "llguidance", llguidance_engine),
                               ("xgrammar", "xgrammar", xgrammar_engine)):
        if importlib.util.find_spec(module) is None:
            print(f"{name}: not installed (pip install {module}); left out")
            continue
        out[name] = make(tok)
    return out
