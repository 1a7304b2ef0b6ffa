"""Shared fixtures: the real default model's tokenizer and engines, tiny random models."""
from __future__ import annotations

import os

import pytest

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def pytest_configure(config):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
