"""The vocabulary as plain data: the exact bytes every token id stands for."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

_SP_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@lru_cache(maxsize=1)
def gpt2_byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's byte-to-unicode table (printable stand-ins for all 256 bytes)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _byte_level_bytes(tok: str) -> bytes | None:
    dec = gpt2_byte_decoder()
    try:
        return bytes(dec[c] for c in tok)
    except KeyError:
        return None


def _sentencepiece_bytes(tok: str) -> bytes:
    m = _SP_BYTE.match(tok)
    if m:
        return bytes([int(m.group(1), 16)])
    return tok.replace("\u2581", " ").encode("utf-8")


@dataclass(frozen=True)
class Vocabulary:
    """Token id -> exact bytes. Special ids never match grammar text; EOS ends a grammar.

    `size` is the logits dimension; ids in [len(token_bytes), size) are never allowed.
    """

    token_bytes: list[bytes]
    special_ids: frozenset[int] = frozenset()
    eos_ids: frozenset[int] = frozenset()
    size: int = 0
    hash: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        size = max(self.size, len(self.token_bytes))
        object.__setattr__(self, "size", size)
        if not self.hash:
            h = hashlib.sha256(str(size).encode())
            for b in self.token_bytes:
                h.update(len(b).to_bytes(4, "little") + b)
            h.update(repr(sorted(self.special_ids)).encode() + repr(sorted(self.eos_ids)).encode())
            object.__setattr__(self, "hash", h.hexdigest()[:32])

    @classmethod
    def from_tokens(cls, tokens: Iterable[bytes | str], *, eos_ids: Iterable[int] = (),
                    special_ids: Iterable[int] = (), size: int | None = None) -> "Vocabulary":
        """A hand-made vocabulary (tests, custom tokenizers); EOS ids count as special."""
        tb = [t.encode() if isinstance(t, str) else bytes(t) for t in tokens]
        eos = frozenset(eos_ids)
        return cls(tb, frozenset(special_ids) | eos, eos, size or len(tb))

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, eos_ids: Iterable[int] | None = None,
                       vocab_size: int | None = None) -> "Vocabulary":
        """Read a Hugging Face tokenizer (byte-level BPE or sentencepiece)."""
        n = len(tokenizer)
        pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        special |= set((getattr(tokenizer, "added_tokens_decoder", None) or {}).keys())
        byte_level = _looks_byte_level(tokenizer, pieces)
        token_bytes: list[bytes] = []
        for i, p in enumerate(pieces):
            if p is None or i in special:
                token_bytes.append(b"")
                special.add(i)
                continue
            b = _byte_level_bytes(p) if byte_level else _sentencepiece_bytes(p)
            if b is None:  # not a byte-level piece: treat as an opaque added token
                special.add(i)
                b = b""
            token_bytes.append(b)
        if eos_ids is None:
            eos = getattr(tokenizer, "eos_token_id", None)
            eos_ids = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
        eos_set = frozenset(int(e) for e in eos_ids)
        return cls(token_bytes, frozenset(special) | eos_set, eos_set, max(vocab_size or 0, n))


def _looks_byte_level(tokenizer: Any, pieces: list[str | None]) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and "ByteLevel" in repr(getattr(backend, "decoder", "")):
        return True
    if any(p is not None and p.startswith("\u2581") for p in pieces[:5000]):
        return False
    dec = gpt2_byte_decoder()
    sample = [p for p in pieces[:5000] if p]
    return bool(sample) and sum(all(c in dec for c in p) for p in sample) > 0.95 * len(sample)
