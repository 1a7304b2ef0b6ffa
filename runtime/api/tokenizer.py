"""Loading the model's tokenizer (HF folder or GGUF metadata), with a local conversion cache."""
from __future__ import annotations

import hashlib
import logging
import os

from ..model_loader.resolve import ModelSource

log = logging.getLogger(__name__)


def _cache_dir(source: ModelSource) -> str:
    st = os.stat(source.path)
    key = hashlib.sha256(f"{os.path.abspath(source.path)}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    root = os.environ.get("SGLIKE_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "sglike"))
    return os.path.join(root, "tokenizers", key)


def load_tokenizer(source: ModelSource, tokenizer_path: str | None = None):
    """Return a Hugging Face tokenizer. GGUF tokenizers are converted once and cached."""
    from transformers import AutoTokenizer

    if tokenizer_path is not None:
        return AutoTokenizer.from_pretrained(tokenizer_path, local_files_only=True)
    if source.kind == "hf":
        return AutoTokenizer.from_pretrained(source.path, local_files_only=True)
    cached = _cache_dir(source)
    if os.path.isfile(os.path.join(cached, "tokenizer.json")):
        try:
            return AutoTokenizer.from_pretrained(cached, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - a stale cache is rebuilt below
            log.warning("ignoring unreadable tokenizer cache %s: %s", cached, exc)
    folder, name = os.path.split(source.path)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    try:
        tmp = f"{cached}.tmp{os.getpid()}"
        tok.save_pretrained(tmp)
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        os.replace(tmp, cached)
    except OSError as exc:
        log.warning("could not cache the converted tokenizer: %s", exc)
    return tok
