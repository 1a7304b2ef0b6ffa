"""Run-level defaults and the default backend (``set_default_backend``)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

from .backend.base import Backend

# run()/run_batch() keyword arguments that are sampling defaults for every gen
SAMPLING_KEYS = (
    "max_new_tokens", "min_new_tokens", "n", "stop", "stop_token_ids", "temperature", "top_p", "top_k",
    "min_p", "frequency_penalty", "presence_penalty", "repetition_penalty", "ignore_eos", "seed",
)


@dataclass(frozen=True)
class RunDefaults:
    """Sampling and logprob defaults a gen inherits unless it sets its own."""

    sampling: dict[str, Any] = field(default_factory=dict)
    return_logprob: bool = False
    logprob_start_len: int | None = None
    top_logprobs_num: int = 0

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any], program_args: Sequence[str] = ()) -> "RunDefaults":
        """Pop sampling/logprob keys out of ``kwargs`` (what is left are program args);
        a key that names a program argument stays a program argument."""
        keys = [k for k in SAMPLING_KEYS if k in kwargs and k not in program_args]
        sampling = {k: kwargs.pop(k) for k in keys}
        if "max_tokens" in kwargs:
            sampling["max_new_tokens"] = kwargs.pop("max_tokens")
        if isinstance(sampling.get("stop"), str):
            sampling["stop"] = [sampling["stop"]]
        sampling = {k: v for k, v in sampling.items() if v is not None}
        return cls(
            sampling=sampling,
            return_logprob=bool(kwargs.pop("return_logprob", False)),
            logprob_start_len=kwargs.pop("logprob_start_len", None),
            top_logprobs_num=int(kwargs.pop("top_logprobs_num", None) or 0),
        )


class _DefaultBackend:
    """Holds the backend used when run()/run_batch() get no ``backend=``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backend: Backend | None = None

    def set(self, backend: Backend | None) -> None:
        with self._lock:
            self._backend = backend

    def get(self) -> Backend | None:
        with self._lock:
            return self._backend


_default = _DefaultBackend()


def set_default_backend(backend: Backend | None) -> None:
    """Use ``backend`` for programs run without ``backend=``."""
    _default.set(backend)


def get_default_backend() -> Backend | None:
    return _default.get()


def resolve_backend(backend: Backend | None) -> Backend:
    chosen = backend if backend is not None else _default.get()
    if chosen is None:
        raise RuntimeError("no backend: pass backend= to run()/run_batch() or call sglike.set_default_backend(...)")
    return chosen
