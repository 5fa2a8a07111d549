"""Turning an HTTP error answer into the typed error a caller can act on."""

from __future__ import annotations

from typing import Any

import httpx

from .errors import (
    AurinkoError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
    RateLimitedError,
    TokenExpiredError,
    UnauthorizedError,
    UnavailableError,
)
from .retry import parse_retry_after

# The vendor's own client treats these 400 answers as a dead sync token.
_BAD_TOKEN_MARKERS = ("token.notValid", "Page token is invalid")

_BY_STATUS: dict[int, type[AurinkoError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    410: TokenExpiredError,
    412: PreconditionFailedError,
}


def _envelope(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def error_code(response: httpx.Response) -> str | None:
    """Aurinko's ``code`` of a refusal (``token.dead``), None when it gave none."""
    code = _envelope(response).get("code")
    return str(code) if code else None


def _nested_message(original: Any) -> str | None:
    """The provider's own words, which the API nests inside ``originalError``."""
    while isinstance(original, dict):
        message = original.get("message")
        if isinstance(message, str) and message:
            return message
        original = original.get("error") or original.get("innerError")
    return None


def _error_class(status: int, code: str, text: str) -> type[AurinkoError]:
    if status == 400 and any(m in code or m in text for m in _BAD_TOKEN_MARKERS):
        return TokenExpiredError
    if status == 429:
        return RateLimitedError
    if status == 408 or status >= 500:
        return UnavailableError
    return _BY_STATUS.get(status, BadRequestError)


def error_from_response(what: str, response: httpx.Response) -> AurinkoError:
    """The typed error for an answer with status >= 400. ``what`` is "METHOD path"."""
    body = _envelope(response)
    status = response.status_code
    code = str(body.get("code") or "")
    message = str(body.get("message") or response.reason_phrase or "")
    detail = _nested_message(body.get("originalError"))
    request_id = body.get("requestId") if isinstance(body.get("requestId"), str) else None
    text = f"{what}: HTTP {status}"
    text += f" {code}" if code else ""
    text += f": {message}" if message else ""
    text += f" ({detail})" if detail and detail != message else ""
    text += f" [request {request_id}]" if request_id else ""
    cls = _error_class(status, code, f"{message} {detail or ''}")
    kwargs: dict[str, Any] = {"status": status, "code": code or None, "request_id": request_id}
    if cls is RateLimitedError:
        kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
    error = cls(text, **kwargs)
    error.original = body.get("originalError")
    return error
