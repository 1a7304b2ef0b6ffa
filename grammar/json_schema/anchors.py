"""`$anchor` and `$dynamicRef` within one document (no embedded resources).

`"$ref": "#name"` points at the subschema with `"$anchor": "name"` (or `$dynamicAnchor`).
A `$dynamicRef` is static when the document is a single resource (no `$id` below the root):
its dynamic scope then only ever holds this document, so it resolves like a `$ref` to the
one `$dynamicAnchor` of that name. Embedded resources or ambiguous anchors raise
GrammarError naming the keyword.
"""
from __future__ import annotations

from typing import Any, Iterator

from ..errors import GrammarError

# keywords whose values are not subschemas (an "$anchor" inside them is data)
_DATA = {"enum", "const", "default", "examples", "example", "required"}


def _walk(node: Any, top: bool = True) -> Iterator[tuple[dict, bool]]:
    """Every subschema (dict) with whether it is the root."""
    if isinstance(node, dict):
        yield node, top
        for k, v in node.items():
            if k not in _DATA:
                yield from _walk(v, False)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, False)


def _single_resource(root: Any, keyword: str) -> None:
    if any("$id" in d and isinstance(d["$id"], str) for d, top in _walk(root) if not top):
        raise GrammarError(f"JSON Schema keyword {keyword!r} in a document with embedded "
                           "resources ($id below the root) is not supported")


def find_anchor(root: Any, name: str, ref: str) -> Any:
    """The subschema named `name` by `$anchor` or `$dynamicAnchor`."""
    _single_resource(root, "$anchor")
    hits = [d for d, _ in _walk(root) if name in (d.get("$anchor"), d.get("$dynamicAnchor"))]
    if len(hits) != 1:
        raise GrammarError(f"$ref {ref!r}: {'no' if not hits else 'more than one'} "
                           f"subschema has that anchor")
    return hits[0]


def dynamic_ref(root: Any, s: dict) -> dict:
    """`s` with its `$dynamicRef` turned into the equivalent `$ref` (see the module doc)."""
    ref = s["$dynamicRef"]
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise GrammarError(f"$dynamicRef {ref!r}: only references within the document are supported")
    _single_resource(root, "$dynamicRef")
    rest = {k: v for k, v in s.items() if k != "$dynamicRef"}
    return {**rest, "$ref": ref}
