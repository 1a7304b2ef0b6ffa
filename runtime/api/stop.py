"""Stop strings: the one matcher (``find``), and what the API side does with its result.

Stop strings (and ``stop_regex`` patterns, ``find_regex``) are matched on text, not tokens, so they are found even when they span token
boundaries. Generation halts as soon as a stop string is complete, so "first" means the
match that *ends* first (ties: the one that starts first, i.e. the longest).

Who does what: the engine's ``FinishChecker`` calls ``find`` after every token and reports
the matched string in the request's finish reason. The API side never matches: while
streaming it holds back a tail that could start a stop string (``holdback``), and at the
end it cuts the text where the reported string begins (``trim``)::

    engine:  match = checker.find(text, new_from)  ->  FinishReason("stop", matched=match.stop)
    API:     stream(text[sent : len(text) - checker.holdback(text)]); at the end trim(text, matched, sent)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class StopMatch:
    stop: str  # the stop string that matched
    start: int  # its index in the text: the output is text[:start]
    end: int  # start + len(stop)


class StopChecker:
    """Finds stop strings in a growing text. Stateless apart from the stop list."""

    def __init__(self, stop_strings: Iterable[str] | str | None) -> None:
        if isinstance(stop_strings, str):
            stop_strings = [stop_strings]
        self.stop_strings: tuple[str, ...] = tuple(dict.fromkeys(s for s in stop_strings or () if s))
        self.max_len = max((len(s) for s in self.stop_strings), default=0)

    def __bool__(self) -> bool:
        return bool(self.stop_strings)

    def find(self, text: str, new_from: int = 0) -> StopMatch | None:
        """First stop string in ``text`` that ends after index ``new_from`` (the start of
        the text added since the last call; earlier text was already checked). Only the
        last ``max_len - 1`` old characters are rescanned, so a step costs O(delta)."""
        best: StopMatch | None = None
        for stop in self.stop_strings:
            start = text.find(stop, max(0, new_from - len(stop) + 1))
            if start < 0:
                continue
            match = StopMatch(stop, start, start + len(stop))
            if best is None or (match.end, match.start) < (best.end, best.start):
                best = match
        return best

    def holdback(self, text: str) -> int:
        """How many trailing characters of ``text`` could be the start of a stop string
        (so a streaming caller should not send them yet)."""
        longest = 0
        for stop in self.stop_strings:
            for k in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:k]):
                    longest = k
                    break
        return longest


def find_regex(patterns: Iterable[str], text: str, new_from: int = 0) -> StopMatch | None:
    """First match of any ``stop_regex`` pattern that ends after ``new_from`` (ties: the one
    that starts first). Regexes can span any length, so the whole text is searched; a match
    that ended in older text was already reported."""
    best: StopMatch | None = None
    for pattern in patterns:
        for m in re.finditer(pattern, text):
            if m.end() <= new_from or m.end() == m.start():
                continue
            match = StopMatch(m.group(0), m.start(), m.end())
            if best is None or (match.end, match.start) < (best.end, best.start):
                best = match
            break
    return best


def trim(text: str, matched: str, sent: int = 0) -> str:
    """``text`` cut where the engine's reported stop string ``matched`` begins. The engine
    checked every earlier position, so its match is the string's first occurrence; text
    already sent (before ``sent``) is never taken back."""
    cut = text.find(matched)
    return text[:cut] if cut >= sent else text
