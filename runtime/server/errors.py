"""HTTP errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          429: "rate_limit_error", 503: "service_unavailable", 500: "internal_error"}


class APIError(Exception):
    """Raised anywhere in request handling; rendered by the app's exception handler."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 retry_after: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.retry_after = retry_after
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": _TYPES.get(self.status, "error"),
                          "param": self.param, "code": self.code or self.status}}

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


def validation_error(errors: list[dict[str, Any]]) -> APIError:
    """A 400 for pydantic validation errors, naming the first bad field."""
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
    param = ".".join(loc) or None
    msg = first.get("msg", "invalid request")
    return APIError(400, f"{param}: {msg}" if param else msg, param=param)
