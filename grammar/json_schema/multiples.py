"""`multipleOf`: integers that are multiples of m, and decimals with m = 10^-d.

- Integers: with both bounds and at most ENUM_MAX multiples in range, the multiples are
  listed; otherwise m (reduced to what an integer must be a multiple of: 1 for m = 0.5) must
  divide 10^k for some k <= 4, and the last k digits decide (e.g. 25: 00, 25, 50, 75).
- Numbers: an integral m gives the integral multiples (a subset: no "4.0" spellings);
  m = 10^-d gives the numbers written with at most d fraction digits, no exponent.
Bounds other than `minimum: 0` (or none) next to an unlisted range raise GrammarError
naming 'multipleOf'; so do other divisors (3, 7, 0.25 for numbers, ...).
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from ..errors import GrammarError
from ..regex.syntax import NOTHING
from .common import alt

ENUM_MAX = 1024
MAX_K = 4


def _decimal(m: Any) -> Decimal:
    if isinstance(m, bool) or not isinstance(m, (int, float)) or not m > 0 or math.isinf(m):
        raise GrammarError(f"'multipleOf' must be a positive number, got {m!r}")
    return Decimal(str(m)) if isinstance(m, float) else Decimal(m)


def integer_step(m: Any) -> int:
    """The n such that an integer is a multiple of m exactly when it is one of n."""
    d = _decimal(m).normalize()
    sign, digits, exp = d.as_tuple()
    c = int("".join(map(str, digits)))
    if exp >= 0:
        return c * 10 ** exp
    return c // math.gcd(c, 10 ** -exp)


def int_multiples(m: Any, lo: int | None, hi: int | None) -> str:
    """Regex (compact JSON) of the integers in [lo, hi] that are multiples of m."""
    n = integer_step(m)
    if lo is not None and hi is not None:
        if lo > hi:
            return NOTHING
        first = -(-lo // n) * n
        if first > hi:
            return NOTHING
        if (hi - first) // n < ENUM_MAX:
            return alt([str(v) for v in range(first, hi + 1, n)])
    k = next((k for k in range(MAX_K + 1) if 10 ** k % n == 0), None)
    if k is None:
        raise GrammarError(f"'multipleOf' {m!r} is only supported with a range of at most "
                           f"{ENUM_MAX} multiples (or a divisor of 10000)")
    if hi is not None or (lo is not None and lo > n):
        raise GrammarError(f"'multipleOf' {m!r} with these bounds is not supported")
    ends = list(range(0, 10 ** k, n))                       # last k digits of a multiple
    big = "[1-9][0-9]*" + alt([f"{r:0{k}d}" for r in ends]) if k else "[1-9][0-9]*"
    nonzero = alt([str(r) for r in ends if r] + [big])      # no leading zeros, not 0
    if lo is not None and lo > 0:  # 0 < lo <= n: every positive multiple
        return nonzero
    if lo is not None:  # only lo == 0 keeps the negatives out exactly
        if lo < 0:
            raise GrammarError(f"'multipleOf' {m!r} with a negative minimum is not supported")
        return alt(["0", nonzero])
    return alt(["0", f"-?{nonzero}"])


def number_multiples(s: dict, lo: Any, hi: Any) -> str | None:
    """Regex for a `number` with multipleOf 10^-d (None when m is integral: the caller uses
    the integer multiples); lo/hi are the schema's minimum and maximum."""
    d = _decimal(s["multipleOf"]).normalize()
    sign, digits, exp = d.as_tuple()
    if exp >= 0:
        return None
    if list(digits) != [1]:
        raise GrammarError(f"'multipleOf' {s['multipleOf']!r} is only supported for numbers "
                           "when it is an integer or a power of ten (0.1, 0.01, ...)")
    other = {"exclusiveMinimum", "exclusiveMaximum"} & s.keys()
    if hi is not None or other or lo not in (None, 0):
        raise GrammarError("'multipleOf' for numbers is only supported with no bounds or "
                           "'minimum': 0")
    body = rf"(?:0|[1-9][0-9]*)(?:\.[0-9]{{1,{-exp}}})?"
    return body if lo == 0 else "-?" + body
