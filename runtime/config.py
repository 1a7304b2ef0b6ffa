"""Engine configuration: one frozen dataclass, one place for every default."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .attention import check_backend_name

SCHEDULE_POLICIES = ("lpm", "fcfs", "dfs-weight")
SPECULATIVE_ALGORITHMS = (None, "NGRAM", "STANDALONE")
QUANTIZATIONS = ("auto", "none", "int8", "int4", "w8a8_int8", "w4a8_int8")


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    model_path: str | None = None  # None: the built-in default (SmolLM2-135M-Instruct GGUF)
    tokenizer_path: str | None = None  # defaults to the model's own tokenizer
    dtype: str = "auto"  # auto | float32 | bfloat16
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    quantization: str = "auto"  # auto (keep a GGUF's own format where fast) | none | int8 | int4 | w8a8_int8 | w4a8_int8
    max_total_tokens: int | None = None  # KV pool capacity in tokens; None: from mem budget
    kv_memory_gb: float = 1.0  # KV budget when max_total_tokens is None (capped by context)
    max_running_requests: int = 64
    max_queued_requests: int | None = None  # None: unbounded waiting queue
    chunked_prefill_size: int = 512  # max prompt tokens prefilled for one request per step
    max_prefill_tokens: int = 2048  # token budget of one prefill step (all requests)
    context_length: int | None = None  # None: from the model config
    schedule_policy: str = "lpm"
    disable_radix_cache: bool = False
    attention_backend: str = "auto"  # auto (triton on CUDA, torch elsewhere) | torch | torch_ref | triton (runtime/attention/)
    cuda_graph_max_bs: int | None = None  # largest decode batch replayed from a CUDA graph; None: min(max_running_requests, 160)
    disable_cuda_graph: bool = False  # CUDA only: run every decode step eagerly
    disable_cpu_decode_step: bool = False  # CPU only: run decode module by module, not as one C++ step
    random_seed: int = 0
    grammar_cache_dir: str | None = None  # None: ~/.cache/sglike/grammar
    enable_jump_forward: bool = True
    # speculative decoding (runtime/speculative/): None (off) | NGRAM | STANDALONE
    speculative_algorithm: str | None = None
    speculative_num_draft_tokens: int = 6  # most tokens drafted per request per step
    speculative_draft_model_path: str | None = None  # STANDALONE drafter; None: the target model itself
    speculative_ngram_min_match_window_size: int = 3  # shortest suffix NGRAM looks up (shorter ones mislead in prose)
    speculative_ngram_max_match_window_size: int = 8  # longest suffix (tried first)
    speculative_max_batch_size: int = 4  # speculate only while at most this many requests decode
    speculative_cost_gate: bool = True  # plan draft lengths from measured step costs; off: draft all it may
    # tensor parallelism (runtime/distributed/): ranks are processes, gloo on CPU, NCCL on CUDA
    tp_size: int = 1  # ranks the model is split over (heads, MLP, vocab)
    nnodes: int = 1  # machines the ranks span (tp_size / nnodes ranks each)
    node_rank: int = 0  # this machine's index; node 0 runs the engine, the others only ranks
    dist_init_addr: str | None = None  # HOST:PORT of rank 0's rendezvous; None: a free loopback port (one node)
    dist_timeout: int = 600  # seconds a collective of the forward may wait for a rank

    def __post_init__(self) -> None:
        if self.dtype not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"dtype must be auto, float32 or bfloat16 (got {self.dtype!r})")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization must be one of {QUANTIZATIONS} (got {self.quantization!r})")
        if self.schedule_policy not in SCHEDULE_POLICIES:
            raise ValueError(f"schedule_policy must be one of {SCHEDULE_POLICIES} (got {self.schedule_policy!r})")
        for name in ("max_running_requests", "chunked_prefill_size", "max_prefill_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.max_total_tokens is not None and self.max_total_tokens < 2:
            raise ValueError("max_total_tokens must be >= 2")
        check_backend_name(self.attention_backend)
        if self.cuda_graph_max_bs is not None and self.cuda_graph_max_bs < 1:
            raise ValueError("cuda_graph_max_bs must be >= 1")
        if self.speculative_algorithm not in SPECULATIVE_ALGORITHMS:
            raise ValueError(f"speculative_algorithm must be one of {SPECULATIVE_ALGORITHMS} (got {self.speculative_algorithm!r})")
        lo, hi = self.speculative_ngram_min_match_window_size, self.speculative_ngram_max_match_window_size
        if self.speculative_num_draft_tokens < 1 or lo < 1 or hi < lo:
            raise ValueError("speculative_num_draft_tokens and the n-gram window sizes must be >= 1 (min <= max)")

        self._check_distributed()

    def _check_distributed(self) -> None:
        if self.tp_size < 1 or self.nnodes < 1 or self.dist_timeout < 1:
            raise ValueError("tp_size, nnodes and dist_timeout must be >= 1")
        if self.tp_size % self.nnodes:
            raise ValueError(f"tp_size ({self.tp_size}) must be a multiple of nnodes ({self.nnodes})")
        if not 0 <= self.node_rank < self.nnodes:
            raise ValueError(f"node_rank must be in [0, {self.nnodes}) (got {self.node_rank})")
        if self.nnodes > 1 and not self.dist_init_addr:
            raise ValueError("nnodes > 1 needs dist_init_addr HOST:PORT (rank 0's address, reachable from every node)")
        if self.dist_init_addr is not None:
            host, _, port = self.dist_init_addr.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"dist_init_addr must be HOST:PORT (got {self.dist_init_addr!r})")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> "EngineConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown engine option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**kwargs)

    def with_options(self, **kwargs: Any) -> "EngineConfig":
        return replace(self, **kwargs)
