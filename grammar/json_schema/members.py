"""Object members in declared order followed by undeclared ("additional") members: the body
of an object whose `additionalProperties` is not false.

Undeclared members come after the declared ones (one place in the regex, not one per gap:
the regex stays small; instances with an undeclared member between declared ones are not
emitted, a subset). Built left to right in linear size: `nonempty` is the regex of the
member lists that may have been emitted so far (at least one member; None: none yet) and
`may_be_empty` says whether emitting none is still allowed (no required member passed).
"""
from __future__ import annotations

from .words import other_strings


KEY_NODES: int | None = None  # prefixes of the declared names a key may share (None: all)


def extra_key(declared: list[str]) -> str | None:
    """A JSON string without escapes that is no declared property name (and, with
    KEY_NODES set, shares at most that many of their prefixes); None when a declared name
    needs escapes. Keys such as "name " next to a declared "name" are common, so the
    whole trie of names is followed by default."""
    return other_strings(set(declared), escapes=False, max_nodes=KEY_NODES)


def open_members(members: list[tuple[str, bool]], sep: str, extra: str) -> str:
    """Members (regex, required) in order, each optional one skippable, then any number of
    `extra` members; commas only between emitted ones."""
    nonempty: str | None = None
    may_be_empty = True
    for m, req in members:
        if nonempty is None:
            nonempty = m
        elif may_be_empty:
            nonempty = f"(?:{nonempty}{sep})?{m}" if req else f"(?:{nonempty}(?:{sep}{m})?|{m})"
        else:
            nonempty = f"{nonempty}{sep}{m}" if req else f"{nonempty}(?:{sep}{m})?"
        may_be_empty = may_be_empty and not req
    more = f"(?:{sep}{extra})*"
    if nonempty is None:
        return f"(?:{extra}{more})?"
    if may_be_empty:
        return f"(?:(?:{nonempty}|{extra}){more})?"
    return nonempty + more
