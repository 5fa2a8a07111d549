"""WSGI's shapes, and the two plain things both the front and the CardDAV wrapper do: read
a request's length, answer in one line of text."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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


def plain(
    start_response: StartResponse,
    status: str,
    text: str,
    extra: Sequence[tuple[str, str]] = (),
) -> Iterable[bytes]:
    """An answer of one line of text (``extra``: more header fields)."""
    body = (text + "\n").encode("utf-8")
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(status, [*headers, *extra])
    return [body]
