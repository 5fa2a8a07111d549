"""WSGI's shapes, and the two plain things both the front and the CardDAV wrapper do: read
a request's length, answer in one line of text."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Headers = list[tuple[str, str]]


def content_length(environ: Environ) -> int:
    """The request's ``Content-Length``; 0 for none or a malformed one."""
    try:
        return max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def plain(start_response: StartResponse, status: str, text: str) -> Iterable[bytes]:
    """An answer of one line of text."""
    body = (text + "\n").encode("utf-8")
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]
