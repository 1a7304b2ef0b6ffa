"""The plain twin of ``runtime/router/radix_tree.py``: a list of strings, scanned."""
from __future__ import annotations


def common_len(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class BruteTree:
    def __init__(self) -> None:
        self.strings: list[str] = []

    def insert(self, text: str) -> None:
        if text:
            self.strings.append(text)

    def match(self, text: str) -> int:
        return max((common_len(text, s) for s in self.strings), default=0)

    @property
    def size(self) -> int:
        """Distinct non-empty prefixes held (= characters of a radix tree over them)."""
        return len({s[:i] for s in self.strings for i in range(1, len(s) + 1)})
