"""Walks shared by the radix trees (the engine's KV cache in ``mem/radix_cache.py`` and the
router's text trees in ``router/radix_tree.py``): any node with a ``children`` dict. No torch."""
from __future__ import annotations

from typing import Any


def leaves(root: Any) -> list[Any]:
    """The nodes under ``root`` (not ``root`` itself) that have no children."""
    out, stack = [], list(root.children.values())
    while stack:
        node = stack.pop()
        if node.children:
            stack.extend(node.children.values())
        else:
            out.append(node)
    return out
