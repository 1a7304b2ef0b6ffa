"""Exact regexes for bounded integers and decimal numbers in JSON syntax.

Bounded numbers are emitted without exponent. A bound is applied to the decimal text so that
the float a validator parses from it (correctly rounded) satisfies the schema's bound:
exclusive bounds become inclusive at the neighbouring double.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from ..errors import GrammarError

INT = r"-?(?:0|[1-9][0-9]*)"
NUMBER = INT + r"(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_FRAC_ANY, _FRAC_ZERO, _FRAC_NONZERO = r"(?:\.[0-9]+)?", r"(?:\.0+)?", r"\.[0-9]*[1-9][0-9]*"


def _digit(a: int, b: int) -> str:
    return str(a) if a == b else f"[{a}-{b}]"


def _same_len(a: str, b: str) -> list[str]:
    """Alternatives matching digit strings of equal length between a and b (inclusive)."""
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if i == len(a):
        return [a]
    p, a, b = a[:i], a[i:], b[i:]
    n = len(a) - 1
    if n == 0:
        return [p + _digit(int(a), int(b))]
    out, first_lo, first_hi = [], int(a[0]), int(b[0])
    if a[1:] != "0" * n:
        out += [p + a[0] + x for x in _same_len(a[1:], "9" * n)]
        first_lo += 1
    if b[1:] != "9" * n:
        first_hi -= 1
    if first_lo <= first_hi:
        out.append(p + _digit(first_lo, first_hi) + f"[0-9]{{{n}}}")
    if b[1:] != "9" * n:
        out += [p + b[0] + x for x in _same_len("0" * n, b[1:])]
    return out


def _nonneg(lo: int, hi: int | None) -> list[str]:
    """Alternatives for integers in [lo, hi] (hi None = unbounded), no leading zeros."""
    if hi is not None and lo > hi:
        return []
    out, d = [], len(str(lo))
    top = hi if hi is not None else 10 ** d - 1
    for k in range(d, len(str(top)) + 1):
        a, b = max(lo, 10 ** (k - 1) if k > 1 else 0), min(top, 10 ** k - 1)
        if a <= b:
            out += _same_len(str(a), str(b))
    if hi is None:
        out.append(f"[1-9][0-9]{{{d},}}")
    return out


def _alt(parts: list[str]) -> str:
    if not parts:
        raise GrammarError("numeric bounds leave no possible value")
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


def int_range(lo: int | None, hi: int | None) -> str:
    """Regex for JSON integers in [lo, hi]; None means unbounded."""
    if lo is None and hi is None:
        return INT
    parts = []
    if hi is None or hi >= 0:
        parts += _nonneg(max(lo, 0) if lo is not None else 0, hi)
    if lo is None or lo < 0:
        neg = _nonneg(max(1, -hi) if hi is not None else 1, -lo if lo is not None else None)
        parts += ["-" + x for x in neg] if len(neg) < 2 else ["-(?:" + "|".join(neg) + ")"]
    return _alt(parts)


def _suffix(empty: bool, alts: list[str]) -> str | None:
    """Fraction suffix regex: '' when the digit string is empty, else '.' + digits."""
    if not alts:
        return "" if empty else None
    dot = r"\.(?:" + "|".join(alts) + ")"
    return f"(?:{dot})?" if empty else dot


def _ge(f: str, excl: bool) -> tuple[bool, list[str]]:
    """Digit strings D with 0.D >= 0.f (> when excl): (empty D allowed, non-empty alternatives).
    `f` has no trailing zeros."""
    if not f:
        return (not excl, ["[0-9]*[1-9][0-9]*" if excl else "[0-9]+"])
    c, alts = int(f[0]), []
    if c < 9:
        alts.append(f"[{c + 1}-9][0-9]*")
    empty, sub = _ge(f[1:], excl)
    alts += ([str(c)] if empty else []) + ([f"{c}(?:{'|'.join(sub)})"] if sub else [])
    return False, alts


def _le(f: str, excl: bool) -> tuple[bool, list[str]]:
    """Digit strings D with 0.D <= 0.f (< when excl)."""
    if not f:
        return (not excl, [] if excl else ["0+"])
    c, alts = int(f[0]), []
    if c > 0:
        alts.append(f"[0-{c - 1}][0-9]*")
    empty, sub = _le(f[1:], excl)
    alts += ([str(c)] if empty else []) + ([f"{c}(?:{'|'.join(sub)})"] if sub else [])
    return True, alts


def _between(f1: str, e1: bool, f2: str, e2: bool) -> tuple[bool, list[str]]:
    """Digit strings D with 0.f1 <(=) 0.D <(=) 0.f2, given 0.f1 <= 0.f2."""
    if not f1 and not e1:
        return _le(f2, e2)
    if not f2:
        return False, []
    c1, r1 = (int(f1[0]), f1[1:]) if f1 else (0, "")
    c2, r2 = int(f2[0]), f2[1:]
    if c1 == c2:
        empty, sub = _between(r1, e1, r2, e2)
        return False, ([str(c1)] if empty else []) + ([f"{c1}(?:{'|'.join(sub)})"] if sub else [])
    alts = []
    for c, (empty, sub) in ((c1, _ge(r1, e1)), (c2, _le(r2, e2))):
        alts += ([str(c)] if empty else []) + ([f"{c}(?:{'|'.join(sub)})"] if sub else [])
    if c1 + 1 <= c2 - 1:
        alts.append(f"{_digit(c1 + 1, c2 - 1)}[0-9]*")
    return False, alts


def _split(d: Decimal) -> tuple[int, str]:
    """Integer part and fraction digits (no trailing zeros) of a non-negative decimal."""
    i = int(d)
    frac = format(d - i, "f")
    return i, frac[2:].rstrip("0") if "." in frac else ""


def _magnitude(a: Decimal, a_excl: bool, b: Decimal | None, b_excl: bool) -> list[str]:
    """Decimals m (no sign, no exponent) with a <(=) m <(=) b, a >= 0."""
    if b is not None and (b < a or (b == a and (a_excl or b_excl))):
        return []
    ai, af = _split(a)
    if b is not None:
        bi, bf = _split(b)
        if ai == bi:
            suf = _suffix(*_between(af, a_excl, bf, b_excl))
            return [] if suf is None else [str(ai) + suf]
    out = []
    suf = _suffix(*_ge(af, a_excl))
    if suf is not None:
        out.append(str(ai) + suf)
    mid = _nonneg(ai + 1, None if b is None else bi - 1)
    if mid:
        out.append(f"(?:{'|'.join(mid)}){_FRAC_ANY}")
    if b is not None:
        suf = _suffix(*_le(bf, b_excl))
        if suf is not None:
            out.append(str(bi) + suf)
    return out


def _float_bound(x: Any, name: str, up: bool, excl: bool) -> Decimal:
    """An inclusive decimal bound D such that any decimal text on the right side of D parses
    (correctly rounded, so monotonically) to a float on the right side of x: exclusive
    bounds move to the neighbouring double."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise GrammarError(f"{name} must be a number, got {x!r}")
    try:
        f = float(x)
    except OverflowError:
        raise GrammarError(f"{name}={x!r} is out of range") from None
    if math.isinf(f) or math.isnan(f):
        raise GrammarError(f"{name}={x!r} is not a finite number")
    if (f < x) if up else (f > x):  # a large int that float() rounded the wrong way
        f = math.nextafter(f, math.inf if up else -math.inf)
    if excl:
        f = math.nextafter(f, math.inf if up else -math.inf)
    return Decimal(repr(f))


def number_range(lo: Any, lo_excl: bool, hi: Any, hi_excl: bool) -> str:
    """JSON numbers within the bounds (emitted without exponent); else any JSON number."""
    if lo is None and hi is None:
        return NUMBER
    lo = None if lo is None else _float_bound(lo, "minimum", True, lo_excl)
    hi = None if hi is None else _float_bound(hi, "maximum", False, hi_excl)
    parts = []
    if hi is None or hi >= 0:
        a = lo if lo is not None and lo >= 0 else Decimal(0)
        parts += _magnitude(a, False, hi, False)
    if lo is None or lo < 0:
        a, a_excl = (-hi, False) if hi is not None and hi < 0 else (Decimal(0), True)
        parts += ["-" + x for x in _magnitude(a, a_excl, None if lo is None else -lo, False)]
    return _alt(parts)


def int_bounds(schema: dict) -> tuple[int | None, int | None]:
    """Inclusive integer bounds from minimum/maximum/exclusive* (draft 4 booleans too)."""
    import math
    lo, hi = schema.get("minimum"), schema.get("maximum")
    emin, emax = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    lo = None if lo is None else math.ceil(lo)
    hi = None if hi is None else math.floor(hi)
    if emin is True and lo is not None:
        lo = math.floor(schema["minimum"]) + 1
    elif not isinstance(emin, bool) and emin is not None:
        v = math.floor(emin) + 1
        lo = v if lo is None else max(lo, v)
    if emax is True and hi is not None:
        hi = math.ceil(schema["maximum"]) - 1
    elif not isinstance(emax, bool) and emax is not None:
        v = math.ceil(emax) - 1
        hi = v if hi is None else min(hi, v)
    return lo, hi


def num_bounds(schema: dict) -> tuple:
    """(lo, lo_excl, hi, hi_excl) for 'number', draft-4 boolean exclusives included."""
    lo, hi = schema.get("minimum"), schema.get("maximum")
    lo_x = schema.get("exclusiveMinimum") is True
    hi_x = schema.get("exclusiveMaximum") is True
    emin, emax = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if not isinstance(emin, bool) and emin is not None and (lo is None or emin >= lo):
        lo, lo_x = emin, True
    if not isinstance(emax, bool) and emax is not None and (hi is None or emax <= hi):
        hi, hi_x = emax, True
    return lo, lo_x, hi, hi_x
