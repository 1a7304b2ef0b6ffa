"""JSON strings other than a finite set of words: keys that are no declared property,
strings outside another schema's enum. Texts without \\u escapes and without \\/, so no
other spelling of a banned word slips by."""
from __future__ import annotations

import re
from functools import lru_cache

from ..regex.syntax import NOTHING

_SHORT_ESC = r'\\["\\bfnrt]'  # short escapes other than \/ (no word contains their chars)


def other_strings(words: set[str], escapes: bool = True, max_nodes: int | None = None) -> str | None:
    """Regex of a JSON string (quotes included) spelling none of `words`; None when a word
    has a character that needs an escape (a quote, a backslash, a control character).
    `escapes=False`: strings of printable ASCII characters only (a smaller regex). `max_nodes`: the
    regex follows at most that many prefixes of the words (breadth first); strings that go
    on along a prefix it does not follow are left out (a subset, and a regex of bounded
    size). Memoized: the objects of a schema often declare the same properties."""
    return _other_strings(frozenset(words), escapes, max_nodes)


@lru_cache(maxsize=256)
def _other_strings(words: frozenset[str], escapes: bool, max_nodes: int | None) -> str | None:
    if any(any(c in '"\\' or ord(c) < 0x20 for c in w) for w in words):
        return None
    trie: dict = {}
    for w in words:
        node = trie
        for c in w:
            node = node.setdefault(c, {})
        node[None] = {}
    if max_nodes is not None:
        _prune(trie, max_nodes)
    return '"' + _not_words(trie, escapes) + '"'


def _prune(trie: dict, max_nodes: int) -> None:
    """Mark the nodes past the first `max_nodes` (breadth first) as cut (`False` key)."""
    queue, seen = [trie], 0
    while queue:
        node = queue.pop(0)
        for c in sorted(k for k in node if k):
            seen += 1
            if seen > max_nodes:
                node[c] = {False: True}
            else:
                queue.append(node[c])


def _not_words(node: dict, escapes: bool) -> str:
    """Regex of the string contents (raw chars, short escapes) spelling no word of a trie
    (`None` marks a word's end) from this node on."""
    kids = sorted(k for k in node if k)
    ban = "".join(re.escape(c) for c in kids)
    if escapes:
        other = rf'(?:[^"\\\x00-\x1f{ban}]|{_SHORT_ESC})'
        anything = r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt])*'
    else:  # printable ASCII: one byte per character, a small NFA
        other, anything = _ascii_class(frozenset(kids)), _ascii_class(frozenset()) + "*"
    parts = [other + anything] + [re.escape(c) + _not_words(node[c], escapes) for c in kids
                                  if False not in node[c]]
    if None not in node:
        parts.append("")
    return "(?:" + "|".join(parts) + ")"


@lru_cache(maxsize=1024)
def _ascii_class(banned: frozenset[str]) -> str:
    """A class of the printable ASCII characters but '"', '\\' and `banned`."""
    keep = [c for c in map(chr, range(0x20, 0x7F)) if c not in banned and c not in '"\\']
    runs: list[list[str]] = []
    for c in keep:
        if runs and ord(c) == ord(runs[-1][1]) + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    body = "".join(re.escape(a) if a == b else f"{re.escape(a)}-{re.escape(b)}" for a, b in runs)
    return f"[{body}]" if body else NOTHING
