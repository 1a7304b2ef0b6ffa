"""Lark grammar text -> rules of `Expr` bodies, using lark's own grammar loader."""
from __future__ import annotations

import threading

import lark.lexer
from lark import Lark
from lark.exceptions import LarkError
from lark.lexer import PatternStr

from ..errors import GrammarError
from .ir import Alt, Expr, Lit, Ref, Regex, Rep, Seq
from .lark_ebnf import NotHandled, load_ebnf, rule_expr

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
        try:
            rules, ignore = _rules_from_ebnf(text)
        except NotHandled:
            rules, ignore = _rules_from_lark_compile(text, start)
    except LarkError as e:
        raise GrammarError(f"Lark grammar error: {e}") from None
    if start not in rules:
        raise GrammarError(f"Lark grammar has no rule {start!r}")
    rules[START] = Seq((ignore, Ref(start))) if ignore is not None else Ref(start)
    return rules, START


def _rules_from_ebnf(text: str) -> tuple[dict[str, Expr], Expr | None]:
    """Rules straight from lark's EBNF trees (see lark_ebnf)."""
    patterns, ignore_names, rule_trees = load_ebnf(text)
    missing = [n for n in ignore_names if n not in patterns]
    if missing:
        raise GrammarError(f"%ignore of undefined terminal(s): {', '.join(missing)}")
    ignore = _ignore_of([_pattern_expr(patterns[n], n) for n in ignore_names])
    terms: dict[str, Expr] = {}

    def term(name: str) -> Expr:
        if name not in terms:
            if name not in patterns:
                raise GrammarError(f"terminal {name} has no definition")
            terms[name] = _with_ignore(_pattern_expr(patterns[name], name), ignore)
        return terms[name]

    def anon(pattern) -> Expr:
        return _with_ignore(_pattern_expr(pattern, repr(pattern.raw or pattern.value)), ignore)

    return {name: rule_expr(tree, term, anon) for name, tree in rule_trees}, ignore


def _rules_from_lark_compile(text: str, start: str) -> tuple[dict[str, Expr], Expr | None]:
    """Rules from lark's BNF compile (handles templates; 2^k alternatives for k optionals).
    parser=None: lark builds no parser (its Earley tables cost seconds on large grammars)."""
    lark = build_lark(text, parser=None, lexer="dynamic", start=start)
    defs = {t.name: t for t in lark.terminals}
    missing = [n for n in lark.ignore_tokens if n not in defs]
    if missing:
        raise GrammarError(f"%ignore of undefined terminal(s): {', '.join(missing)}")
    ignore = _ignore_of([_pattern_expr(defs[n].pattern, n) for n in lark.ignore_tokens])
    terms = {t.name: _with_ignore(_pattern_expr(t.pattern, t.name), ignore) for t in lark.terminals}
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
    return {name: Alt(tuple(alts)) for name, alts in bodies.items()}, ignore


def _pattern_expr(pattern, name: str) -> Expr:
    if isinstance(pattern, PatternStr) and not pattern.flags:
        return Lit(pattern.value.encode("utf-8"))
    regex = pattern.to_regexp()
    regex = _LOOKBEHIND_FREE.get(regex, regex)
    if "(?<" in regex or "(?=" in regex or "(?!" in regex:
        raise GrammarError(f"terminal {name}: lookaround is not supported in {regex!r}")
    return Regex(regex)


def _ignore_of(exprs: list[Expr]) -> Expr | None:
    if not exprs:
        return None
    return Rep(exprs[0] if len(exprs) == 1 else Alt(tuple(exprs)), 0, None)


def _with_ignore(expr: Expr, ignore: Expr | None) -> Expr:
    return expr if ignore is None else Seq((expr, ignore))
