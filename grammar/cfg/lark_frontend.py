"""Lark grammar text -> rules of `Expr` bodies, using lark's own grammar loader."""
from __future__ import annotations

import threading

import lark.lexer
from lark import Lark
from lark.exceptions import LarkError
from lark.lexer import PatternStr

from ..errors import GrammarError
from .ir import Alt, Expr, Lit, Ref, Regex, Rep, Seq

START = "__cfg_start"
# lark's common.ESCAPED_STRING uses a lookbehind; this is the same language without one.
_LOOKBEHIND_FREE = {
    r'".*?(?<!\\)(\\\\)*?"': r'"(?:[^"\\\n]|\\[^\n])*"',
}


_LOCK = threading.Lock()


def build_lark(*args, **kwargs) -> Lark:
    """`Lark(...)` without lark's terminal-collision check: with interegular installed it
    costs ~0.35 s the first time (lark's own grammar) and we re-lower every terminal anyway."""
    with _LOCK:
        saved = getattr(lark.lexer, "has_interegular", False)
        lark.lexer.has_interegular = False
        try:
            return Lark(*args, **kwargs)
        finally:
            lark.lexer.has_interegular = saved


def parse_lark(text: str, start: str = "start") -> tuple[dict[str, Expr], str]:
    """Parse a Lark grammar; %ignore'd terminals may follow every terminal and lead the text."""
    try:
        # parser=None: lark loads and compiles the grammar but builds no parser (its Earley
        # tables cost seconds on large generated grammars, and we parse with our own)
        lark = build_lark(text, parser=None, lexer="dynamic", start=start)
    except LarkError as e:
        raise GrammarError(f"Lark grammar error: {e}") from None
    ignore = _ignore_expr(lark)
    terms = {t.name: _terminal_expr(t, ignore) for t in lark.terminals}
    bodies: dict[str, list[Expr]] = {}
    for rule in lark.rules:
        items = []
        for sym in rule.expansion:
            if sym.is_term:
                if sym.name not in terms:
                    raise GrammarError(f"terminal {sym.name} has no definition")
                items.append(terms[sym.name])
            else:
                items.append(Ref(sym.name))
        bodies.setdefault(rule.origin.name, []).append(Seq(tuple(items)))
    rules: dict[str, Expr] = {name: Alt(tuple(alts)) for name, alts in bodies.items()}
    if start not in rules:
        raise GrammarError(f"Lark grammar has no rule {start!r}")
    rules[START] = Seq((ignore, Ref(start))) if ignore is not None else Ref(start)
    return rules, START


def _pattern_expr(term) -> Expr:
    pattern = term.pattern
    if isinstance(pattern, PatternStr) and not pattern.flags:
        return Lit(pattern.value.encode("utf-8"))
    regex = pattern.to_regexp()
    regex = _LOOKBEHIND_FREE.get(regex, regex)
    if "(?<" in regex or "(?=" in regex or "(?!" in regex:
        raise GrammarError(f"terminal {term.name}: lookaround is not supported in {regex!r}")
    return Regex(regex)


def _ignore_expr(lark: Lark) -> Expr | None:
    if not lark.ignore_tokens:
        return None
    defs = {t.name: t for t in lark.terminals}
    missing = [n for n in lark.ignore_tokens if n not in defs]
    if missing:
        raise GrammarError(f"%ignore of undefined terminal(s): {', '.join(missing)}")
    alts = tuple(_pattern_expr(defs[n]) for n in lark.ignore_tokens)
    return Rep(alts[0] if len(alts) == 1 else Alt(alts), 0, None)


def _terminal_expr(term, ignore: Expr | None) -> Expr:
    expr = _pattern_expr(term)
    return expr if ignore is None else Seq((expr, ignore))
