"""Python `re` syntax -> the regular IR (ir.py), with `re`'s own parser.

Full-match semantics. `\\d \\w \\s` are ASCII (as with re.ASCII); `.` excludes "\\n" unless
DOTALL; IGNORECASE folds simple case pairs (str.lower/upper and re's extra folds). Anchors,
backreferences, lookaround, conditionals and possessive/atomic forms raise GrammarError.
"""
from __future__ import annotations

import re
import _sre
import re._constants as C
import re._parser as sre_parse
from functools import lru_cache

from ..budget import check, check_parse
from ..errors import GrammarError
from . import charset as cs
from .ir import Alt, Cls, Lit, RegularExpr, Rep, Seq
from .syntax import class_items

CASED_LIMIT = 0x1F000  # no code point at or above this has a case mapping
_CATEGORIES = {C.CATEGORY_DIGIT: (cs.DIGIT, False), C.CATEGORY_NOT_DIGIT: (cs.DIGIT, True),
               C.CATEGORY_WORD: (cs.WORD, False), C.CATEGORY_NOT_WORD: (cs.WORD, True),
               C.CATEGORY_SPACE: (cs.SPACE_ASCII, False),
               C.CATEGORY_NOT_SPACE: (cs.SPACE_ASCII, True)}
_UNSUPPORTED = {
    C.GROUPREF: "backreferences", C.GROUPREF_EXISTS: "conditional groups",
    C.ASSERT: "lookaround assertions", C.ASSERT_NOT: "lookaround assertions",
    C.ATOMIC_GROUP: "atomic groups", C.POSSESSIVE_REPEAT: "possessive quantifiers",
    C.AT: "anchors",
}


@lru_cache(maxsize=256)
def parse_regex(pattern: str) -> RegularExpr:
    """The IR of `pattern`; raises GrammarError when it is invalid or unsupported."""
    try:
        check_parse(pattern, 'parsing a regex')
        parsed = sre_parse.parse(pattern)
    except (re.error, OverflowError, RecursionError) as e:
        raise GrammarError(f"invalid regex {pattern[:200]!r}: {e}") from None
    return _Builder(pattern).seq(list(parsed), parsed.state.flags)


class _Builder:
    """sre's parse tree -> IR. Equal sub-expressions come out as one object (hash-consed by
    their children's identities), so an NFA builder can replay a repeated one."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._nodes: dict[tuple, RegularExpr] = {}

    def make(self, kind: type, *fields) -> RegularExpr:
        """kind(*fields), the same object for equal fields (children compared by identity)."""
        key = (kind, *(tuple(map(id, f)) if isinstance(f, tuple) and kind in (Seq, Alt) else
                       id(f) if kind is Rep and i == 0 else f for i, f in enumerate(fields)))
        node = self._nodes.get(key)
        if node is None:
            node = self._nodes[key] = kind(*fields)
        return node

    def fail(self, what: str) -> GrammarError:
        return GrammarError(f"regex {self.pattern[:200]!r}: {what} are not supported")

    def seq(self, items: list, flags: int) -> RegularExpr:
        out: list[RegularExpr] = []
        for op, av in items:
            node = self.node(op, av, flags)
            if isinstance(node, Lit) and out and isinstance(out[-1], Lit):
                out[-1] = self.make(Lit, out[-1].data + node.data)
            else:
                out.append(node)
        return out[0] if len(out) == 1 else self.make(Seq, tuple(out))

    def node(self, op, av, flags: int) -> RegularExpr:
        check("parsing a regex")
        if op in _UNSUPPORTED:
            raise self.fail(_UNSUPPORTED[op])
        if op == C.LITERAL:
            if flags & re.IGNORECASE:
                return self.cls(((av, av),), flags)
            return self.make(Lit, chr(av).encode()) if not 0xD800 <= av <= 0xDFFF \
                else self.make(Cls, ())
        if op == C.NOT_LITERAL:
            return self.cls(((av, av),), flags, negate=True)
        if op == C.ANY:
            return self.make(Cls, cs.ANY if flags & re.DOTALL else cs.complement(((10, 10),)))
        if op == C.IN:
            return self.in_set(av, flags)
        if op == C.BRANCH:
            return self.make(Alt, tuple(self.seq(list(b), flags) for b in av[1]))
        if op == C.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            return self.seq(list(sub), (flags | add_flags) & ~del_flags)
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            return self.make(Rep, self.seq(list(sub), flags), lo, None if hi == C.MAXREPEAT else hi)
        raise GrammarError(f"regex {self.pattern[:200]!r}: unsupported construct {op}")

    def in_set(self, items: list, flags: int) -> Cls:
        negate, ranges = class_items(items, self.category, repr(self.pattern[:200]))
        return self.cls(tuple(ranges), flags, negate)

    def category(self, cat) -> cs.Ranges:
        if cat not in _CATEGORIES:
            raise GrammarError(f"regex {self.pattern[:200]!r}: unsupported class item {C.CATEGORY}")
        rs, neg = _CATEGORIES[cat]
        return cs.complement(rs) if neg else rs

    def cls(self, ranges, flags: int, negate: bool = False) -> Cls:
        rs = cs.normalize(ranges)
        if flags & re.IGNORECASE:
            rs = fold_case(rs)
        return self.make(Cls, tuple(cs.complement(rs) if negate else cs.intersect(rs, cs.ANY)))


def fold_case(rs: cs.Ranges) -> cs.Ranges:
    """Code points x whose simple lowercase (as `re` computes it) is the lowercase of a member
    of `rs`, or one of re's extra fold partners of it (e.g. s / U+017F)."""
    from re._casefix import _EXTRA_CASES

    lowers: set[int] = set()
    for lo, hi in cs.intersect(rs, ((0, CASED_LIMIT - 1),)):
        for cp in range(lo, hi + 1):
            low = _sre.unicode_tolower(cp)
            lowers.add(low)
            lowers.update(_EXTRA_CASES.get(low, ()))
    inv = _lower_inverse()
    out = list(rs) + [(c, c) for c in lowers]
    out += [(x, x) for c in lowers for x in inv.get(c, ())]
    return cs.normalize(out)


@lru_cache(maxsize=1)
def _lower_inverse() -> dict[int, tuple[int, ...]]:
    """lowercase code point -> the other code points that lowercase to it."""
    inv: dict[int, list[int]] = {}
    for cp in range(CASED_LIMIT):
        low = _sre.unicode_tolower(cp)
        if low != cp:
            inv.setdefault(low, []).append(cp)
    return {k: tuple(v) for k, v in inv.items()}
