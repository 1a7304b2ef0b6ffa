"""Assembling the real scheduler from a config: resolve the model, load the tokenizer,
build the model runner, pick the prefix cache, and hand them to the ``Scheduler``."""
from __future__ import annotations

from typing import Any

from .api.tokenizer import load_tokenizer
from .config import EngineConfig
from .distributed.launch import start_tensor_parallel
from .mem.cache_manager import KVCacheManager
from .mem.registry import create_prefix_cache, prefix_cache_name
from .model_loader.resolve import ModelSource, resolve_model
from .model_runner import ModelRunner
from .scheduler.grammar_hook import GrammarHook
from .speculative.registry import create_drafter
from .scheduler.scheduler import Scheduler


def eos_token_ids(runner: ModelRunner, tokenizer: Any) -> set[int]:
    """The model config's EOS ids plus the tokenizer's own."""
    eos = set(runner.model_config.eos_token_ids)
    if getattr(tokenizer, "eos_token_id", None) is not None:
        eos.add(tokenizer.eos_token_id)
    return eos


def build_scheduler(config: EngineConfig, source: ModelSource, tokenizer: Any) -> Scheduler:
    """With ``tp_size`` > 1 this process becomes rank 0 and starts the other ranks first."""
    runner = ModelRunner(config, source, start_tensor_parallel(config, source))
    try:
        kv = KVCacheManager(create_prefix_cache(prefix_cache_name(config), runner.allocator))
        eos = eos_token_ids(runner, tokenizer)
        grammar = GrammarHook(config, tokenizer, runner.vocab_size, eos)
        return Scheduler(config, runner=runner, kv=kv, tokenizer=tokenizer, eos_ids=eos, grammar=grammar,
                         drafter=create_drafter(config, runner))
    except BaseException:
        runner.close()
        raise


def build(config: EngineConfig) -> tuple[Scheduler, dict[str, Any]]:
    """``(scheduler, {"tokenizer", "source"})`` for ``EngineCore``."""
    source = resolve_model(config.model_path)
    tokenizer = load_tokenizer(source, config.tokenizer_path)
    return build_scheduler(config, source, tokenizer), {"tokenizer": tokenizer, "source": source}
