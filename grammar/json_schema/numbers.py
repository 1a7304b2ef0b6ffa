"""Exact regexes for bounded integers and (integer-bounded) decimal numbers in JSON syntax."""
from __future__ import annotations

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


def _magnitude(a: int, a_excl: bool, b: int | None, b_excl: bool) -> list[str]:
    """Decimals m (no sign, no exponent) with a <(=) m <(=) b, a >= 0."""
    if b is not None and (b < a or (b == a and (a_excl or b_excl))):
        return []
    if b == a:
        return [str(a) + _FRAC_ZERO]
    out = [f"(?:{_alt(mid)}){_FRAC_ANY}" for mid in [_nonneg(a + 1, None if b is None else b - 1)] if mid]
    out.append(str(a) + (_FRAC_NONZERO if a_excl else _FRAC_ANY))
    if b is not None and not b_excl:
        out.append(str(b) + _FRAC_ZERO)
    return out


def _as_int(x: float | int, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise GrammarError(f"{name} must be a number, got {x!r}")
    if float(x) != int(x):
        raise GrammarError(f"{name}={x!r}: only integer-valued bounds are supported for 'number'")
    return int(x)


def number_range(lo, lo_excl: bool, hi, hi_excl: bool) -> str:
    """JSON numbers within integer-valued bounds (emitted without exponent); else JSON number."""
    if lo is None and hi is None:
        return NUMBER
    lo = None if lo is None else _as_int(lo, "minimum")
    hi = None if hi is None else _as_int(hi, "maximum")
    parts = []
    if hi is None or hi > 0 or (hi == 0 and not hi_excl):
        a, a_excl = (lo, lo_excl) if lo is not None and lo >= 0 else (0, False)
        parts += _magnitude(a, a_excl, hi, hi_excl)
    if lo is None or lo < 0:
        a, a_excl = (-hi, hi_excl) if hi is not None and hi < 0 else (0, True)
        parts += ["-" + x for x in _magnitude(a, a_excl, None if lo is None else -lo, lo_excl)]
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
