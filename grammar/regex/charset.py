"""Sets of Unicode code points as sorted, disjoint, inclusive ranges."""
from __future__ import annotations

from functools import lru_cache

MAX_CP = 0x10FFFF
SURROGATES = ((0xD800, 0xDFFF),)
Ranges = tuple[tuple[int, int], ...]


def normalize(ranges: list[tuple[int, int]] | Ranges) -> Ranges:
    """Sort and merge overlapping or adjacent ranges."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def complement(rs: Ranges) -> Ranges:
    """All code points (surrogates excluded) not in `rs`."""
    out, start = [], 0
    for lo, hi in normalize(list(rs) + list(SURROGATES)):
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= MAX_CP:
        out.append((start, MAX_CP))
    return tuple(out)


def intersect(a: Ranges, b: Ranges) -> Ranges:
    """Code points in both sets."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def size(rs: Ranges) -> int:
    """Number of code points in the set."""
    return sum(hi - lo + 1 for lo, hi in rs)


def from_chars(chars: str) -> Ranges:
    """The set of the given characters."""
    return normalize([(ord(c), ord(c)) for c in chars])


ANY = complement(())
DIGIT = ((0x30, 0x39),)
WORD = normalize([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
SPACE_ASCII = normalize([(0x09, 0x0D), (0x20, 0x20)])
SPACE_ECMA = normalize(list(SPACE_ASCII) + [(0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
                                            (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
                                            (0x3000, 0x3000), (0xFEFF, 0xFEFF)])


def utf8_sequences(lo: int, hi: int) -> list[tuple[tuple[int, int], ...]]:
    """Split a code point range (no surrogates) into byte-range sequences matching its UTF-8."""
    out: list[tuple[tuple[int, int], ...]] = []
    stack = [(lo, hi)]
    while stack:
        lo, hi = stack.pop()
        for edge in (0x7F, 0x7FF, 0xFFFF):
            if lo <= edge < hi:
                stack += [(edge + 1, hi), (lo, edge)]
                break
        else:
            for i in range(1, 4):
                m = (1 << (6 * i)) - 1
                if (lo & ~m) != (hi & ~m):
                    if lo & m:
                        stack += [((lo | m) + 1, hi), (lo, lo | m)]
                        break
                    if (hi & m) != m:
                        stack += [(hi & ~m, hi), (lo, (hi & ~m) - 1)]
                        break
            else:
                out.append(tuple(zip(chr(lo).encode(), chr(hi).encode())))
    return out


@lru_cache(maxsize=4096)
def utf8_paths(ranges: Ranges) -> tuple[tuple[tuple[int, int], ...], ...]:
    """The byte-range sequences of one character of `ranges` (valid code points only), cached
    for the process: the terminals of different grammars repeat the same classes."""
    rs = intersect(normalize(list(ranges)), ANY)
    return tuple(q for lo, hi in rs for q in utf8_sequences(lo, hi))
