"""Shared fixtures: the real default model's tokenizer and engines, tiny random models."""
from __future__ import annotations

import os
import sys

import pytest

# `python -m pytest` puts the repository root on sys.path, where the folder kernels/ (the
# package sglike.kernels, installed under that name only) would shadow any top-level
# `kernels` module: transformers >= 5.25 imports Hugging Face's `kernels` package and would
# get ours. sglike itself is importable through its editable install, not through the root.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _ROOT]

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def pytest_configure(config):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
