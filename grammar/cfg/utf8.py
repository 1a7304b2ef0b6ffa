"""Unicode code point ranges -> UTF-8 byte-range sequences."""
from __future__ import annotations

from typing import Iterable, Iterator

MAX_CP = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)
_LENGTH_BANDS = ((0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, MAX_CP))

ByteSeq = list[tuple[int, int]]  # one (lo, hi) byte range per position


def chars_to_ranges(chars: Iterable[str]) -> list[tuple[int, int]]:
    """Sorted, merged code point ranges covering `chars`."""
    return merge_ranges((ord(c), ord(c)) for c in chars)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge overlapping/adjacent inclusive ranges."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """All code points not covered by the (merged) `ranges`."""
    out, nxt = [], 0
    for lo, hi in merge_ranges(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= MAX_CP:
        out.append((nxt, MAX_CP))
    return out


def utf8_sequences(lo: int, hi: int) -> Iterator[ByteSeq]:
    """Byte-range sequences whose union encodes exactly code points lo..hi (surrogates skipped)."""
    for a, b in _LENGTH_BANDS:
        l, h = max(lo, a), min(hi, b)
        if l > h:
            continue
        s_lo, s_hi = _SURROGATES
        if l <= s_hi and h >= s_lo:  # cut out surrogates
            if l < s_lo:
                yield from _split(l, s_lo - 1)
            if h > s_hi:
                yield from _split(s_hi + 1, h)
        else:
            yield from _split(l, h)


def _split(lo: int, hi: int) -> Iterator[ByteSeq]:
    n = len(chr(lo).encode())
    if n == 1:
        yield [(lo, hi)]
        return
    for i in range(1, n):
        m = (1 << (6 * i)) - 1
        if lo & ~m != hi & ~m:
            if lo & m:
                yield from _split(lo, lo | m)
                yield from _split((lo | m) + 1, hi)
                return
            if hi & m != m:
                yield from _split(lo, (hi & ~m) - 1)
                yield from _split(hi & ~m, hi)
                return
    yield list(zip(chr(lo).encode(), chr(hi).encode()))
