"""Drafters by ``speculative_algorithm`` name."""
from __future__ import annotations

from typing import Callable

from ..config import EngineConfig
from ..model_runner import ModelRunner
from .drafts import Drafter, NgramDrafter


def _ngram(config: EngineConfig, runner: ModelRunner) -> Drafter:
    return NgramDrafter(config)


def _standalone(config: EngineConfig, runner: ModelRunner) -> Drafter:
    from .draft_model import DraftModelDrafter  # loads a second model: only when asked

    return DraftModelDrafter(config, runner)


DRAFTERS: dict[str, Callable[[EngineConfig, ModelRunner], Drafter]] = {"NGRAM": _ngram, "STANDALONE": _standalone}


def create_drafter(config: EngineConfig, runner: ModelRunner) -> Drafter | None:
    """The configured drafter, or None when speculative decoding is off."""
    if config.speculative_algorithm is None:
        return None
    return DRAFTERS[config.speculative_algorithm](config, runner)
