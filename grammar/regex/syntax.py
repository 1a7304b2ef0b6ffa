"""Python `re` syntax -> a normalized regex (for parse.py, Lark terminals and the
interegular-based oneOf check), or GrammarError.

Supported: literals, escapes, classes, `.`, \\d \\w \\s (ASCII, as with re.ASCII; \\s may use the
ECMA-262 whitespace set for JSON Schema), groups, alternation, all greedy/lazy quantifiers
incl. {m,n}, the DOTALL flag, and `^`/`$` at the very start/end of a branch. Patterns are
full-matched. Rejected with GrammarError: backreferences, lookaround, word boundaries and
other anchors, conditionals, possessive/atomic groups, case-insensitive matching.
"""
from __future__ import annotations

import re
import re._constants as C
import re._parser as sre_parse
from typing import Any, Callable

from ..budget import check, check_parse
from ..errors import GrammarError
from . import charset as cs

NOTHING = "\ud800"  # a lone surrogate: no UTF-8 encoding, so the byte DFA drops it
MAX_CLASS = 30000  # interegular (oneOf disjointness check) enumerates classes char by char
_UNSUPPORTED = {
    C.GROUPREF: "backreferences", C.GROUPREF_EXISTS: "conditional groups",
    C.ASSERT: "lookaround assertions", C.ASSERT_NOT: "lookaround assertions",
    C.ATOMIC_GROUP: "atomic groups", C.POSSESSIVE_REPEAT: "possessive quantifiers",
}
_BEGIN = (C.AT_BEGINNING, C.AT_BEGINNING_STRING)
_END = (C.AT_END, C.AT_END_STRING)


def translate(pattern: str, *, search: bool = False, allowed: cs.Ranges = cs.ANY,
              ecma_space: bool = False) -> str:
    """Rewrite `pattern` for full matching; `search=True` gives JSON Schema's unanchored
    semantics; every character class is intersected with `allowed`."""
    try:
        check_parse(pattern, 'translating a regex')
        parsed = sre_parse.parse(pattern)
    except re.error as e:
        raise GrammarError(f"invalid regex {pattern!r}: {e}") from None
    t = _Translator(pattern, parsed.state.flags, allowed, ecma_space)
    items = list(parsed)
    branches = items[0][1][1] if len(items) == 1 and items[0][0] == C.BRANCH else [items]
    out = [t.branch(list(b), search) for b in branches]
    # grouped, so callers may wrap it (quotes around a pattern's top-level alternation)
    return out[0] if len(out) == 1 else "(?:" + "|".join(f"(?:{b})" for b in out) + ")"



def class_items(items: list, category: Callable[[Any], cs.Ranges], where: str) -> tuple[bool, list]:
    """The items of an sre character class -> (negated, code point ranges); `category`
    resolves \\d-style categories, `where` names the pattern in errors."""
    negate, ranges = False, []
    for op, av in items:
        if op == C.NEGATE:
            negate = True
        elif op == C.LITERAL:
            ranges.append((av, av))
        elif op == C.RANGE:
            ranges.append(av)
        elif op == C.CATEGORY:
            ranges.extend(category(av))
        else:
            raise GrammarError(f"regex {where}: unsupported class item {op}")
    return negate, ranges

class _Translator:
    def __init__(self, pattern: str, flags: int, allowed: cs.Ranges, ecma_space: bool):
        self.pattern, self.allowed, self.ecma_space = pattern, allowed, ecma_space
        self.check_flags(flags)
        self.dotall = bool(flags & re.DOTALL)

    def check_flags(self, flags: int) -> None:
        if flags & re.IGNORECASE:
            raise GrammarError(f"regex {self.pattern!r}: case-insensitive matching is not supported")

    def branch(self, items: list, search: bool) -> str:
        begin = bool(items) and items[0][0] == C.AT and items[0][1] in _BEGIN
        end = bool(items) and items[-1][0] == C.AT and items[-1][1] in _END
        body = self.seq(items[1 if begin else 0: len(items) - 1 if end else len(items)])
        anyc = self.cls(self.allowed)
        if search and not begin:
            body = f"{anyc}*" + body
        if search and not end:
            body = body + f"{anyc}*"
        return body

    def seq(self, items: list) -> str:
        return "".join(self.node(op, av) for op, av in items)

    def node(self, op, av) -> str:
        check("translating a regex")
        if op in _UNSUPPORTED:
            raise GrammarError(f"regex {self.pattern!r}: {_UNSUPPORTED[op]} are not supported")
        if op == C.AT:
            raise GrammarError(f"regex {self.pattern!r}: anchors and word boundaries are only "
                               "supported as ^ at the start and $ at the end")
        if op == C.LITERAL:
            return self.cls(((av, av),))
        if op == C.NOT_LITERAL:
            return self.cls(cs.complement(((av, av),)))
        if op == C.ANY:
            return self.cls(cs.ANY if self.dotall else cs.complement(((10, 10),)))
        if op == C.IN:
            return self.cls(self.in_set(av))
        if op == C.BRANCH:
            return "(?:" + "|".join(self.seq(list(b)) for b in av[1]) + ")"
        if op == C.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            self.check_flags(add_flags)
            saved = self.dotall
            self.dotall = (self.dotall or bool(add_flags & re.DOTALL)) and not del_flags & re.DOTALL
            try:
                return "(?:" + self.seq(list(sub)) + ")"
            finally:
                self.dotall = saved
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            inner = "(?:" + self.seq(list(sub)) + ")"
            if hi == C.MAXREPEAT:
                return inner + ("*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}")
            return inner + (f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}")
        raise GrammarError(f"regex {self.pattern!r}: unsupported construct {op}")

    def category(self, cat) -> cs.Ranges:
        space = cs.SPACE_ECMA if self.ecma_space else cs.SPACE_ASCII
        table = {C.CATEGORY_DIGIT: cs.DIGIT, C.CATEGORY_WORD: cs.WORD, C.CATEGORY_SPACE: space}
        neg = {C.CATEGORY_NOT_DIGIT: cs.DIGIT, C.CATEGORY_NOT_WORD: cs.WORD,
               C.CATEGORY_NOT_SPACE: space}
        if cat in table:
            return table[cat]
        if cat in neg:
            return cs.complement(neg[cat])
        raise GrammarError(f"regex {self.pattern!r}: unsupported class {cat}")

    def in_set(self, items: list) -> cs.Ranges:
        negate, ranges = class_items(items, self.category, repr(self.pattern[:200]))
        rs = cs.normalize(ranges)
        return cs.complement(rs) if negate else cs.intersect(rs, cs.ANY)

    def cls(self, rs: cs.Ranges) -> str:
        """Emit a class for `rs & allowed`, negated when that is smaller."""
        rs = cs.intersect(cs.normalize(rs), self.allowed)
        if not rs:
            return NOTHING
        comp = cs.complement(rs)
        if not comp:
            return "(?:[^\\x00]|\\x00)"
        if cs.size(rs) == 1:
            return _esc(rs[0][0], in_class=False)
        small, neg = (comp, True) if cs.size(comp) < cs.size(rs) else (rs, False)
        if cs.size(small) > MAX_CLASS:
            raise GrammarError(f"regex {self.pattern!r}: character class too large "
                               f"({cs.size(small)} code points)")
        body = "".join(_esc_range(lo, hi) for lo, hi in small)
        return ("[^" if neg else "[") + body + "]"


def _esc_range(lo: int, hi: int) -> str:
    return _esc(lo) if lo == hi else _esc(lo) + "-" + _esc(hi)


def _esc(cp: int, in_class: bool = True) -> str:
    if cp < 0x20 or 0x7F <= cp < 0x100:
        return f"\\x{cp:02x}"
    ch = chr(cp)
    special = "\\]^-[" if in_class else "\\.^$*+?{}[]|()"
    return "\\" + ch if ch in special else ch
