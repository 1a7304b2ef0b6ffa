"""Finding a model on disk, reading its config, and loading its weights and tokenizer."""
from .model_config import ModelConfig
from .resolve import ModelSource, resolve_model

__all__ = ["ModelConfig", "ModelSource", "resolve_model"]
