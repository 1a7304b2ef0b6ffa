"""``sglike.RuntimeEndpoint``: our native HTTP API (``/generate``, SGLang's schema)."""
from __future__ import annotations

import json
from typing import Any, Iterator

from ..chat_template import ChatTemplate, jinja_renderer, resolve_chat_template
from .base import BackendError
from .native import NativeBackend


class RuntimeEndpoint(NativeBackend):
    """Talks to ``sglike serve`` (or any server with SGLang's native ``/generate``).

    The chat template comes from ``/get_model_info`` when the server reports its Jinja
    ``chat_template``; pass ``chat_template=`` to override. ``select()`` needs the server's
    ``/tokenize`` endpoint to score choices exactly.
    """

    cumulative_stream = True  # SGLang's native stream sends the whole text so far

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 600.0,
                 chat_template: str | ChatTemplate | None = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers,
                                   timeout=httpx.Timeout(timeout, connect=10.0))
        self._has_tokenize: bool | None = None
        self.model_info = self._get_json("/get_model_info", default={})
        self._chat_template = resolve_chat_template(chat_template, None if chat_template else self._renderer())

    def _renderer(self):
        template = self.model_info.get("chat_template")
        if not template:
            import warnings

            warnings.warn(f"{self.base_url}/get_model_info reports no chat_template; roles use the 'plain' "
                          "template; pass RuntimeEndpoint(..., chat_template=<name>) to override", stacklevel=3)
            return None
        return jinja_renderer(template, self.model_info.get("bos_token") or "", self.model_info.get("eos_token") or "")

    @property
    def chat_template(self) -> ChatTemplate:
        return self._chat_template

    def _get_json(self, path: str, default: Any = None) -> Any:
        try:
            resp = self.client.get(path)
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"cannot reach {self.base_url}{path}: {exc}") from exc
        if resp.status_code == 404:
            return default
        self._raise_for_status(resp)
        return resp.json()

    @staticmethod
    def _raise_for_status(resp: Any) -> None:
        if resp.status_code >= 400:
            raise BackendError(f"HTTP {resp.status_code} from {resp.request.url}: {resp.text[:500]}")

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        try:
            resp = self.client.post(path, json=payload)
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"request to {self.base_url}{path} failed: {exc}") from exc
        self._raise_for_status(resp)
        return resp.json()

    def tokenize(self, text: str) -> list[int] | None:
        if self._has_tokenize is False:
            return None
        try:
            resp = self.client.post("/tokenize", json={"prompt": text, "add_special_tokens": True})
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"request to {self.base_url}/tokenize failed: {exc}") from exc
        if resp.status_code == 404:
            self._has_tokenize = False
            return None
        self._raise_for_status(resp)
        self._has_tokenize = True
        return list(resp.json()["tokens"])

    def _call(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        payload: dict[str, Any] = {
            "sampling_params": [it["sampling_params"] for it in items],
            "return_logprob": [bool(it.get("return_logprob")) for it in items],
            "logprob_start_len": [it.get("logprob_start_len", -1) for it in items],
            "top_logprobs_num": [int(it.get("top_logprobs_num") or 0) for it in items],
        }
        if all("input_ids" in it for it in items):
            payload["input_ids"] = [it["input_ids"] for it in items]
        else:
            payload["text"] = [it["text"] for it in items]
        out = self._post("/generate", payload)
        return out if isinstance(out, list) else [out]

    def _stream(self, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
        payload = dict(item, stream=True)
        try:
            with self.client.stream("POST", "/generate", json=payload) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._raise_for_status(resp)
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if "error" in chunk:
                        raise BackendError(f"stream error from {self.base_url}: {chunk['error']}")
                    yield chunk
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"stream from {self.base_url}/generate failed: {exc}") from exc

    def shutdown(self) -> None:
        self.client.close()
