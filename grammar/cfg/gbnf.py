"""GBNF / EBNF (llama.cpp, SGLang `ebnf=`) text -> rules of `Expr` bodies."""
from __future__ import annotations

import re
from functools import lru_cache

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from ..errors import GrammarError
from ..regex import charset as cs
from .ir import Alt, Cls, Expr, Lit, Ref, Rep, Seq
from .lark_frontend import build_lark

_META = r"""
start: rule+
rule: RULE_START alternatives
alternatives: sequence ("|" sequence)*
sequence: item*
item: atom QUANT?
?atom: STRING -> string
     | CHARCLASS -> charclass
     | NAME -> ref
     | "(" alternatives ")"
     | "." -> any
RULE_START.2: /[A-Za-z_][A-Za-z0-9_-]*[ \t\r\n]*::=/
NAME: /[A-Za-z_][A-Za-z0-9_-]*/
QUANT: /[*+?]/ | /\{[ \t]*\d*[ \t]*(,[ \t]*\d*[ \t]*)?\}/
STRING: /"(?:[^"\\]|\\.)*"/s | /'(?:[^'\\]|\\.)*'/s
CHARCLASS: /\[(?:[^\]\\]|\\.)*\]/s
COMMENT: /#[^\n]*/
%ignore /[ \t\r\n]+/
%ignore COMMENT
"""

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "f": "\f", "v": "\v", "0": "\0", "a": "\a", "b": "\b"}
_HEX = {"x": 2, "u": 4, "U": 8}


@lru_cache(maxsize=1)
def _meta_parser() -> Lark:
    return build_lark(_META, parser="lalr")


def is_gbnf(text: str) -> bool:
    """GBNF rules are written `name ::= ...`."""
    return re.search(r"^\s*[A-Za-z_][A-Za-z0-9_-]*\s*::=", text, re.M) is not None


def parse_gbnf(text: str) -> tuple[dict[str, Expr], str]:
    """Parse GBNF into {rule name: body}; the start rule is `root` (else the first rule)."""
    try:
        tree = _meta_parser().parse(text)
    except UnexpectedInput as e:
        raise GrammarError(f"GBNF syntax error at line {e.line}, column {e.column}: "
                           f"{e.get_context(text).strip()!r}") from None
    except LarkError as e:
        raise GrammarError(f"GBNF syntax error: {e}") from None
    try:
        parsed = _ToExpr().transform(tree)
    except VisitError as e:  # lark wraps errors raised inside transformer callbacks
        raise e.orig_exc if isinstance(e.orig_exc, GrammarError) else GrammarError(str(e)) from None
    rules: dict[str, Expr] = {}
    for name, body in parsed:
        if name in rules:  # llama.cpp appends alternatives of a repeated rule
            body = Alt((rules[name], body))
        rules[name] = body
    start = "root" if "root" in rules else next(iter(rules))
    return rules, start


def _decode(s: str) -> list[tuple[str, bool]]:
    """Decode escapes: [(char, was_escaped)]."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c != "\\" or i + 1 == len(s):
            out.append((c, False))
            i += 1
            continue
        e = s[i + 1]
        if e in _HEX:
            digits = s[i + 2:i + 2 + _HEX[e]]
            if len(digits) != _HEX[e] or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise GrammarError(f"bad escape \\{e}{digits} in GBNF")
            cp = int(digits, 16)
            if cp > cs.MAX_CP:
                raise GrammarError(f"code point out of range: \\{e}{digits}")
            out.append((chr(cp), True))
            i += 2 + _HEX[e]
        else:
            out.append((_ESCAPES.get(e, e), True))
            i += 2
    return out


def _class_ranges(body: str) -> tuple[tuple[int, int], ...]:
    negate = body.startswith("^")
    chars = _decode(body[1:] if negate else body)
    ranges, i = [], 0
    while i < len(chars):
        c = chars[i][0]
        if i + 2 < len(chars) and chars[i + 1] == ("-", False):
            hi = chars[i + 2][0]
            if ord(hi) < ord(c):
                raise GrammarError(f"bad character range {c!r}-{hi!r} in GBNF class [{body}]")
            ranges.append((ord(c), ord(hi)))
            i += 3
        else:
            ranges.append((ord(c), ord(c)))
            i += 1
    merged = cs.normalize(ranges)
    return cs.complement(merged) if negate else merged


def _quantify(e: Expr, q: str) -> Expr:
    if q == "*":
        return Rep(e, 0, None)
    if q == "+":
        return Rep(e, 1, None)
    if q == "?":
        return Rep(e, 0, 1)
    inner = q[1:-1].replace(" ", "").replace("\t", "")
    lo_s, comma, hi_s = inner.partition(",")
    lo = int(lo_s) if lo_s else 0
    hi = (int(hi_s) if hi_s else None) if comma else lo
    if hi is not None and hi < lo:
        raise GrammarError(f"bad repetition {q}: max < min")
    return Rep(e, lo, hi)


class _ToExpr(Transformer):
    def start(self, rules):
        return rules

    def rule(self, children):
        head, body = children
        return head[:-3].strip(), body

    def alternatives(self, seqs):
        return seqs[0] if len(seqs) == 1 else Alt(tuple(seqs))

    def sequence(self, items):
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def item(self, children):
        return children[0] if len(children) == 1 else _quantify(children[0], str(children[1]))

    def string(self, children):
        tok: Token = children[0]
        return Lit("".join(c for c, _ in _decode(tok[1:-1])).encode("utf-8"))

    def charclass(self, children):
        return Cls(_class_ranges(children[0][1:-1]))

    def ref(self, children):
        return Ref(str(children[0]))

    def any(self, _children):
        return Cls(cs.ANY)
