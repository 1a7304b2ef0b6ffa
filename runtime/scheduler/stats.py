"""Engine-level counters (cache hit rate, evictions, retractions, token counts)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class SchedulerStats:
    requests: int = 0
    prompt_tokens: int = 0  # prompt tokens computed by prefill
    prompt_tokens_cached: int = 0  # prompt tokens reused from the prefix cache
    prefill_tokens: int = 0
    generated_tokens: int = 0
    decode_steps: int = 0
    evicted_tokens: int = 0
    retractions: int = 0
    jump_forward_tokens: int = 0

    @property
    def cache_hit_rate(self) -> float:
        total = self.prompt_tokens + self.prompt_tokens_cached
        return self.prompt_tokens_cached / total if total else 0.0

    def snapshot(self, **extra: Any) -> dict[str, Any]:
        return {**asdict(self), "cache_hit_rate": self.cache_hit_rate, **extra}
