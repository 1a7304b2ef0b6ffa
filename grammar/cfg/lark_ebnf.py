"""Lark rule trees (EBNF, as lark's GrammarBuilder leaves them) -> `Expr` bodies directly.

lark's own compile step expands EBNF into BNF, and a rule with k optional parts becomes 2^k
alternatives (generated JSON-schema grammars took seconds there). Our lowering takes the EBNF
operators as they are. Rule templates are not handled here: `NotHandled` tells the caller to
use lark's compile instead.
"""
from __future__ import annotations

from typing import Callable

from lark import Token, Tree
from lark.grammar import NonTerminal, Terminal
from lark.lexer import Pattern, PatternRE
from lark.load_grammar import GrammarBuilder, PrepareLiterals, TerminalTreeToPattern, _literal_to_pattern

from ..errors import GrammarError
from .ir import Alt, Expr, Ref, Rep, Seq


class NotHandled(Exception):
    """The grammar uses a construct this converter leaves to lark's compile step."""


def load_ebnf(text: str) -> tuple[dict[str, Pattern], list[str], list[tuple[str, Tree]]]:
    """(terminal patterns by name, %ignore'd terminal names, (rule name, EBNF tree) list)."""
    builder = GrammarBuilder()
    builder.load_grammar(text, "<grammar>")
    grammar = builder.build()
    to_pattern = PrepareLiterals() * TerminalTreeToPattern()
    terms = {name: to_pattern.transform(tree) for name, (tree, _prio) in grammar.term_defs
             if tree is not None}
    rules = []
    for name, params, tree, _options in grammar.rule_defs:
        if params:
            raise NotHandled(f"rule template {name}")
        rules.append((name, tree))
    return terms, list(grammar.ignore), rules


def rule_expr(tree: Tree, term: Callable[[str], Expr], anon: Callable[[Pattern], Expr]) -> Expr:
    """The `Expr` of one rule body; `term(name)` and `anon(pattern)` give terminal exprs."""
    kind = tree.data
    kids = tree.children
    if kind == "expansions":
        items = [rule_expr(k, term, anon) for k in kids]
        return items[0] if len(items) == 1 else Alt(tuple(items))
    if kind == "expansion":
        return Seq(tuple(rule_expr(k, term, anon) for k in kids))
    if kind == "alias":
        return rule_expr(kids[0], term, anon)
    if kind == "maybe":
        return Rep(rule_expr(kids[0], term, anon), 0, 1)
    if kind == "expr":
        return _repeat(rule_expr(kids[0], term, anon), kids[1], kids[2:])
    if kind == "value":
        (v,) = kids
        if isinstance(v, NonTerminal):
            return Ref(v.name)
        if isinstance(v, Terminal):
            return term(v.name)
        if isinstance(v, Tree) and v.data == "literal":
            return anon(_literal_to_pattern(v.children[0]))
        if isinstance(v, Tree) and v.data == "range":
            return anon(_range_pattern(*v.children))
        if isinstance(v, Tree):
            return rule_expr(v, term, anon)
    raise NotHandled(f"rule construct {kind}")


def _repeat(item: Expr, op: Token, args: list) -> Rep:
    if op == "*":
        return Rep(item, 0, None)
    if op == "+":
        return Rep(item, 1, None)
    if op == "?":
        return Rep(item, 0, 1)
    if op == "~":
        lo = int(args[0])
        hi = int(args[1]) if len(args) > 1 else lo
        if hi < lo:
            raise GrammarError(f"bad repetition range {lo}..{hi}")
        return Rep(item, lo, hi)
    raise NotHandled(f"operator {op}")


def _range_pattern(start: Token, end: Token) -> PatternRE:
    return PrepareLiterals().range(start, end).children[0]
