"""Role prefixes/suffixes for ``system/user/assistant`` blocks.

By default they are derived from the tokenizer's own chat template: we render small
conversations with sentinel contents and read the text around each sentinel. A registry
holds named templates for overrides (``Runtime(..., chat_template="chatml")``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

Renderer = Callable[[list[dict], bool], str]  # (messages, add_generation_prompt) -> text

_S, _U, _A, _U2 = "\u2063SGLSYS\u2063", "\u2063SGLUSR\u2063", "\u2063SGLAST\u2063", "\u2063SGLUSR2\u2063"


@dataclass(frozen=True)
class ChatTemplate:
    """How each role's message is wrapped. ``preamble`` is emitted once before the first
    message (e.g. a BOS token as text); ``default_system_prompt`` is inserted as a system
    message when the conversation starts with another role."""

    name: str
    role_prefix_and_suffix: dict[str, tuple[str, str]] = field(default_factory=dict)
    default_system_prompt: str | None = None
    preamble: str = ""

    def prefix(self, role: str) -> str:
        return self._get(role)[0]

    def suffix(self, role: str) -> str:
        return self._get(role)[1]

    def _get(self, role: str) -> tuple[str, str]:
        try:
            return self.role_prefix_and_suffix[role]
        except KeyError:
            raise ValueError(f"chat template {self.name!r} has no role {role!r}") from None

    def opening(self, role: str) -> str:
        """Text before the first message of a conversation whose first role is ``role``."""
        text = self.preamble
        if role != "system" and self.default_system_prompt is not None:
            text += self.prefix("system") + self.default_system_prompt + self.suffix("system")
        return text


def _after(text: str, marker: str) -> str:
    return text[text.index(marker) + len(marker):]


def _strip_prefix(text: str, prefix: str) -> str:
    if not text.startswith(prefix):
        raise ValueError("template is not a per-message concatenation")
    return text[len(prefix):]


def _strip_suffix(text: str, suffix: str) -> str:
    if suffix and not text.endswith(suffix):
        raise ValueError("template is not a per-message concatenation")
    return text[: len(text) - len(suffix)] if suffix else text


def derive_chat_template(render: Renderer, name: str = "derived") -> ChatTemplate:
    """Derive role prefixes/suffixes from a renderer of the model's chat template.

    Raises ValueError when the template is not a plain per-message concatenation (for
    example one that folds the system prompt into the first user turn); register an
    override for such models.
    """
    sys_, usr, ast, usr2 = ({"role": r, "content": c} for r, c in
                            (("system", _S), ("user", _U), ("assistant", _A), ("user", _U2)))
    t_sua = render([sys_, usr, ast], False)
    t_su = render([sys_, usr], False)
    t_su_gen = render([sys_, usr], True)
    t_suau = render([sys_, usr, ast, usr2], False)
    t_u = render([usr], False)

    user_suffix = _after(t_su, _U)
    assistant_prefix = _strip_prefix(_after(t_su_gen, _U), user_suffix)
    assistant_suffix = _after(t_sua, _A)
    user_prefix = _strip_prefix(_after(t_suau, _A).split(_U2)[0], assistant_suffix)
    between_sys_user = t_sua[t_sua.index(_S) + len(_S): t_sua.index(_U)]
    system_suffix = _strip_suffix(between_sys_user, user_prefix)
    system_head = t_sua[: t_sua.index(_S)]
    if _strip_suffix(t_sua[t_sua.index(_U) + len(_U): t_sua.index(_A)], assistant_prefix) != user_suffix:
        raise ValueError("template is not a per-message concatenation")

    lead = _strip_suffix(t_u[: t_u.index(_U)], user_prefix)
    preamble, default_system = "", None
    if lead.endswith(system_suffix) and lead.startswith(system_head) and lead != "":
        default_system = lead[len(system_head): len(lead) - len(system_suffix)]
        if system_suffix == "" and default_system == "":
            default_system = None
    elif lead:
        preamble = lead
    system_prefix = system_head[len(preamble):] if system_head.startswith(preamble) else system_head
    return ChatTemplate(
        name=name,
        role_prefix_and_suffix={
            "system": (system_prefix, system_suffix),
            "user": (user_prefix, user_suffix),
            "assistant": (assistant_prefix, assistant_suffix),
        },
        default_system_prompt=default_system,
        preamble=preamble,
    )


def jinja_renderer(template: str, bos_token: str = "", eos_token: str = "") -> Renderer:
    """A renderer for a Hugging Face style Jinja chat template, without transformers."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    compiled = env.from_string(template)

    def render(messages: list[dict], add_generation_prompt: bool) -> str:
        return compiled.render(messages=messages, add_generation_prompt=add_generation_prompt,
                               bos_token=bos_token, eos_token=eos_token)

    return render


def tokenizer_renderer(tokenizer) -> Renderer:
    """A renderer that calls ``tokenizer.apply_chat_template`` (Hugging Face tokenizers)."""

    def render(messages: list[dict], add_generation_prompt: bool) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    return render


_REGISTRY: dict[str, ChatTemplate] = {}


def register_chat_template(template: ChatTemplate) -> None:
    """Add (or replace) a named template for ``chat_template=<name>`` overrides."""
    _REGISTRY[template.name] = template


def get_chat_template(name: str) -> ChatTemplate:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown chat template {name!r}; registered: {sorted(_REGISTRY)}") from None


register_chat_template(ChatTemplate("chatml", {
    "system": ("<|im_start|>system\n", "<|im_end|>\n"),
    "user": ("<|im_start|>user\n", "<|im_end|>\n"),
    "assistant": ("<|im_start|>assistant\n", "<|im_end|>\n"),
}))
register_chat_template(ChatTemplate("llama-3-instruct", {
    "system": ("<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>"),
    "user": ("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>"),
    "assistant": ("<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
}, preamble="<|begin_of_text|>"))
register_chat_template(ChatTemplate("plain", {
    "system": ("", "\n\n"), "user": ("User: ", "\n"), "assistant": ("Assistant: ", "\n"),
}))


def resolve_chat_template(override: "str | ChatTemplate | None", render: Renderer | None) -> ChatTemplate:
    """The override if given, else the one derived from ``render``, else ``plain``."""
    if isinstance(override, ChatTemplate):
        return override
    if isinstance(override, str):
        return get_chat_template(override)
    if render is not None:
        try:
            return derive_chat_template(render)
        except Exception as exc:  # noqa: BLE001 - any template failure falls back to a named one
            warnings.warn(f"could not derive role prefixes from the model's chat template ({exc}); "
                          "using the 'plain' template; pass chat_template=<name> to override", stacklevel=3)
    return get_chat_template("plain")
