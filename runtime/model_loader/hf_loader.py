"""Hugging Face folders: config.json -> ModelConfig, *.safetensors -> state dict."""
from __future__ import annotations

import glob
import json
import os
from typing import Any, Iterator

from .lazy_weights import SafetensorsWeight
from .model_config import ModelConfig


def hf_model_config(folder: str) -> ModelConfig:
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    gen_path = os.path.join(folder, "generation_config.json")
    gen = None
    if os.path.isfile(gen_path):
        with open(gen_path) as f:
            gen = json.load(f)
    return ModelConfig.from_hf(cfg, gen)


def iter_safetensors_weights(folder: str, lazy: bool = False) -> Iterator[tuple[str, Any]]:
    """``(name, tensor)``; with ``lazy``, ``SafetensorsWeight``s that read only the part a
    tensor-parallel rank narrows them to (valid until the next item is taken)."""
    from safetensors import safe_open

    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    if not files:
        raise FileNotFoundError(f"no *.safetensors files in {folder}")
    for path in files:
        with safe_open(path, framework="pt") as f:
            for name in f.keys():
                yield name, SafetensorsWeight(f.get_slice(name)) if lazy else f.get_tensor(name)
