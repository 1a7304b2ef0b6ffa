"""HTTP errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          429: "rate_limit_error", 503: "service_unavailable", 500: "internal_error"}
_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


class APIError(Exception):
    """Raised anywhere in request handling; rendered by the app's exception handler."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 retry_after: int | None = None, code: str | None = None) -> None:
        """``code`` is OpenAI's string code (``context_length_exceeded``...) or None."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.retry_after = retry_after
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": _TYPES.get(self.status, "error"),
                          "param": self.param, "code": self.code or _CODES.get(self.status)}}

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def bad_request(message: str, param: str | None = None) -> APIError:
    return APIError(400, message, param=param)


def param_from_message(message: str) -> str | None:
    """Best-effort field name from a ValueError text such as 'sampling_params.top_p must…'
    or an engine refusal such as 'invalid regex: …'."""
    if message.startswith("invalid ") and ":" in message:
        message = message[len("invalid "):]
    head = message.split(" ", 1)[0].rstrip(":,")
    if "." in head or head.isidentifier():
        return head.removeprefix("sampling_params.") if head != "sampling_params" else head
    return None


def body_error(first: dict[str, Any], content_type: str | None) -> APIError | None:
    """A 400 for a body that is not a JSON object at all (None when a field is wrong)."""
    loc, kind = tuple(first.get("loc", ())), first.get("type")
    said = f" (the Content-Type header said {content_type!r})" if content_type else ""
    if kind == "json_invalid":
        where = f" at character {loc[1]}" if len(loc) > 1 else ""
        why = (first.get("ctx") or {}).get("error", "JSON decode error")
        return APIError(400, f"the request body is not valid JSON: {why}{where}{said}")
    if loc == ("body",) and kind == "missing":
        return APIError(400, f"the request body is empty; send a JSON object{said}")
    if loc == ("body",):
        return APIError(400, f"the request body must be a JSON object{said}")
    return None


def validation_error(errors: list[dict[str, Any]], content_type: str | None = None) -> APIError:
    """A 400 for pydantic validation errors, naming the first bad field."""
    first = errors[0] if errors else {}
    whole = body_error(first, content_type)
    if whole is not None:
        return whole
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
    param = ".".join(loc) or None
    msg = first.get("msg", "invalid request")
    return APIError(400, f"{param}: {msg}" if param else msg, param=param)
