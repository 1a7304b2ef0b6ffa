"""Object members in any order (`key_order="any"`): each declared property at most once,
the required ones all present, undeclared members (where allowed) anywhere among them.

The state is the set S of declared properties emitted so far, so the construction is exact
but exponential. With rules (the CFG path) each S is one rule and so is each member:
`n * 2^(n-1)` member references in all. A regex cannot share a state: its text holds one
branch per order of the emitted keys (about `e * n!` member copies), so past
REGEX_MAX_CHARS the schema goes to the CFG path (RecursiveSchema); past MAX_KEYS declared
properties neither is built (GrammarError). Undeclared members follow members.py: keys unlike every declared name,
repeats among themselves not excluded.
"""
from __future__ import annotations

from ..budget import check
from ..errors import GrammarError
from ..regex.syntax import NOTHING
from .common import RecursiveSchema, SchemaConverter, alt

KEY_ORDERS = ("schema", "any")
MAX_KEYS = 8  # declared properties of one object: 2^n states (256 rules at most)
REGEX_MAX_CHARS = 20_000  # a longer any-order object body goes to the CFG path


def check_key_order(key_order: str) -> str:
    """`key_order` itself, or GrammarError naming the accepted values."""
    if key_order not in KEY_ORDERS:
        raise GrammarError(f"key_order must be 'schema' or 'any', got {key_order!r}")
    return key_order


def any_order(cv: SchemaConverter, members: list[tuple[str, bool]], sep: str,
              extra: str | None, lo: int = 0, hi: int | None = None) -> str:
    """The text between an object's braces: `members` (regex, required) each at most once
    in any order, `extra` members (None: none) anywhere, between lo and hi declared members
    (hi is None whenever `extra` is given)."""
    n = len(members)
    if n > MAX_KEYS:
        raise GrammarError(f"key_order='any' supports at most {MAX_KEYS} properties per "
                           f"object (this one has {n}): the grammar needs one state per "
                           f"subset of them")
    required = sum(1 << i for i, (_, req) in enumerate(members) if req)
    later = [_shared(cv, f"{sep}{m}") for m, _ in members]  # a member after another one
    more = "" if extra is None else f"(?:{_shared(cv, sep + extra)})*"
    rest: dict[int, str] = {}  # S -> the declared members that may follow (NOTHING: none)

    def can_end(s: int) -> bool:
        return s & required == required and s.bit_count() >= lo

    def next_ones(s: int) -> list[int]:
        if hi is not None and s.bit_count() >= hi:
            return []
        return [i for i in range(n) if not s >> i & 1]

    def after(s: int) -> str:  # something emitted, S declared: extras, then maybe more
        if s not in rest:
            check("building the object's key orders")
            rest[s] = _shared(cv, alt([_then(later[i], after(s | 1 << i))
                                      for i in next_ones(s)]))
        nxt = rest[s]
        if nxt == NOTHING:
            return more if can_end(s) else NOTHING
        return more + (f"(?:{nxt})?" if can_end(s) else nxt)

    firsts = [_then(members[i][0], after(1 << i)) for i in next_ones(0)]
    if extra is not None:
        firsts.append(_then(extra, after(0)))
    body = alt(firsts)
    if not can_end(0):
        return body
    return "" if body == NOTHING else f"(?:{body})?"


def _then(head: str, tail: str) -> str:
    return NOTHING if tail == NOTHING else head + tail


def _shared(cv: SchemaConverter, body: str) -> str:
    """A state's (or a member's) regex: a rule reference where the converter has rules,
    else the text itself (RecursiveSchema when it grows past REGEX_MAX_CHARS)."""
    if body == NOTHING:
        return body
    ref = cv.state_rule(body)
    if ref is not None:
        return ref
    if len(body) > REGEX_MAX_CHARS:
        raise RecursiveSchema(f"key_order='any': an object body of over {REGEX_MAX_CHARS} "
                              "characters")
    return body
