"""Reading tool calls back out of generated text (no model needed)."""
from __future__ import annotations

import json

from sglike.grammar.structural.tag import StructuralTag
from sglike.runtime.server import tool_calls as tc
from sglike.runtime.server.protocol_openai import Tool

TOOLS = [Tool(function={"name": "f", "parameters": {"type": "object"}}), Tool(function={"name": "g"})]


def _call(name: str, args: dict) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


def test_content_and_several_calls():
    text = "Let me look.\n" + _call("f", {"q": "</tool_call>"}) + "\n" + _call("g", {})
    content, calls = tc.parse_tagged_calls(text, TOOLS)
    assert content == "Let me look."
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == \
        [("f", {"q": "</tool_call>"}), ("g", {})]


def test_no_call_without_a_whole_block():
    for text in ("plain text", '<tool_call>\n{"name": "f", "argum', _call("unknown", {}), '{"name": "f", "arguments": {}}'):
        assert tc.parse_tagged_calls(text, TOOLS) == (text, None)


def test_auto_tag_is_a_valid_structural_tag():
    tag = StructuralTag.parse(tc.auto_structural_tag(TOOLS))
    assert tag.triggers == ("<tool_call>",) and tag.structures[0].schema == tc.required_schema(TOOLS)
