"""SGLang's native ``/generate`` request schema (same field names, so SGLang clients work)."""
from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: Optional[Union[str, list[str]]] = None
    input_ids: Optional[Union[list[int], list[list[int]]]] = None
    sampling_params: Optional[Union[dict[str, Any], list[dict[str, Any]]]] = None
    rid: Optional[Union[str, list[str]]] = None
    return_logprob: Union[bool, list[bool]] = False
    logprob_start_len: Union[int, list[int]] = -1
    top_logprobs_num: Union[int, list[int]] = Field(default=0)
    return_text_in_logprobs: bool = False
    stream: bool = False

    @model_validator(mode="after")
    def _one_prompt(self) -> "GenerateRequest":
        if (self.text is None) == (self.input_ids is None):
            raise ValueError("give exactly one of text or input_ids")
        return self

    @property
    def is_batch(self) -> bool:
        if self.text is not None:
            return isinstance(self.text, list)
        return bool(self.input_ids) and isinstance(self.input_ids[0], list)

    def prompts(self) -> list[Union[str, list[int]]]:
        if self.text is not None:
            return list(self.text) if isinstance(self.text, list) else [self.text]
        return list(self.input_ids) if self.is_batch else [self.input_ids]  # type: ignore[list-item]

    def item(self, field: str, i: int) -> Any:
        """Field value for the i-th prompt of a batch (a scalar applies to all)."""
        value = getattr(self, field)
        if isinstance(value, list) and (field != "sampling_params" or self.is_batch):
            if i >= len(value):
                raise ValueError(f"{field} has {len(value)} entries for a batch of {len(self.prompts())}")
            return value[i]
        return value


class AbortRequestBody(BaseModel):
    rid: str = ""
    abort_all: bool = False


class TokenizeRequest(BaseModel):
    """SGLang's ``/tokenize``: text -> token ids with the server's tokenizer."""

    model_config = ConfigDict(extra="forbid")
    prompt: str
    add_special_tokens: bool = True


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokens: list[int]
    skip_special_tokens: bool = True


class ConcatAppendRequest(BaseModel):
    """SGLang's ``/concate_and_append_request`` (fork join): the forks' ids and the parent's."""

    src_rids: list[str]
    dst_rid: str
