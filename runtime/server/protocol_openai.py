"""OpenAI request models (pydantic). Responses are built as plain dicts in the serving
modules; these models are what requests are validated against and what /openapi.json shows."""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

Stop = Optional[Union[str, list[str]]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StreamOptions(_Model):
    include_usage: bool = False


class _SamplingFields(_Model):
    """Fields shared by /v1/completions and /v1/chat/completions (OpenAI + SGLang extras)."""

    model: str = Field(min_length=1)
    n: int = Field(default=1, ge=1, le=64)
    stream: bool = False
    stream_options: Optional[StreamOptions] = None
    stop: Stop = None
    temperature: Optional[float] = Field(default=None, ge=0.0, le=2.0)
    top_p: Optional[float] = Field(default=None, gt=0.0, le=1.0)
    presence_penalty: Optional[float] = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: Optional[float] = Field(default=None, ge=-2.0, le=2.0)
    seed: Optional[int] = None
    user: Optional[str] = None
    logit_bias: Optional[dict[str, float]] = None  # token id (as a string) -> bias added to its logit
    # SGLang extras (passed in the openai client's extra_body)
    top_k: Optional[int] = Field(default=None, ge=-1)
    min_p: Optional[float] = Field(default=None, ge=0.0, le=1.0)
    min_tokens: int = Field(default=0, ge=0)
    repetition_penalty: Optional[float] = Field(default=None, gt=0.0, le=2.0)
    stop_token_ids: Optional[list[int]] = None
    ignore_eos: bool = False
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    no_stop_trim: bool = False
    regex: Optional[str] = None
    ebnf: Optional[str] = None
    json_whitespace: Literal["compact", "flexible"] = "compact"  # for json_schema / response_format / tools
    json_key_order: Literal["schema", "any"] = "schema"
    rid: Optional[str] = None


class JsonSchemaFormat(_Model):
    name: str = "response"
    description: Optional[str] = None
    schema_: Optional[dict[str, Any]] = Field(default=None, alias="schema")
    strict: Optional[bool] = None


class ResponseFormat(_Model):
    type: Literal["text", "json_object", "json_schema", "structural_tag"]
    json_schema: Optional[JsonSchemaFormat] = None
    # {"type": "json_object", "schema": {...}}: the shape older instructor versions send
    schema_: Optional[dict[str, Any]] = Field(default=None, alias="schema")
    # type structural_tag (SGLang): [{"begin", "schema", "end"}] entered after a trigger
    structures: Optional[list[dict[str, Any]]] = None
    triggers: Optional[list[str]] = None


class CompletionRequest(_SamplingFields):
    prompt: Union[str, list[str], list[int], list[list[int]]]
    max_tokens: Optional[int] = Field(default=16, ge=0)
    logprobs: Optional[int] = Field(default=None, ge=0, le=20)
    echo: bool = False
    suffix: Optional[str] = None
    json_schema: Optional[str] = None
    response_format: Optional[ResponseFormat] = None


class FunctionDef(_Model):
    name: str = Field(min_length=1, max_length=64)
    description: Optional[str] = None
    parameters: Optional[dict[str, Any]] = None
    strict: Optional[bool] = None


class Tool(_Model):
    type: Literal["function"] = "function"
    function: FunctionDef


class NamedFunction(_Model):
    name: str


class NamedToolChoice(_Model):
    type: Literal["function"] = "function"
    function: NamedFunction


class FunctionCall(_Model):
    name: str
    arguments: str


class ToolCall(_Model):
    id: str = ""
    type: Literal["function"] = "function"
    function: FunctionCall


class ContentPart(_Model):
    type: Literal["text"]
    text: str


class ChatMessage(_Model):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Optional[Union[str, list[ContentPart]]] = None
    name: Optional[str] = None
    tool_calls: Optional[list[ToolCall]] = None
    tool_call_id: Optional[str] = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class ChatCompletionRequest(_SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: Optional[int] = Field(default=None, ge=0)
    max_completion_tokens: Optional[int] = Field(default=None, ge=0)
    logprobs: bool = False
    top_logprobs: Optional[int] = Field(default=None, ge=0, le=20)
    response_format: Optional[ResponseFormat] = None
    tools: Optional[list[Tool]] = None
    tool_choice: Optional[Union[Literal["none", "auto", "required"], NamedToolChoice]] = None
    parallel_tool_calls: Optional[bool] = None
    continue_final_message: bool = False
    chat_template_kwargs: Optional[dict[str, Any]] = None
