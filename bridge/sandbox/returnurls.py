"""Return URLs of the OAuth flow: which ones the sandbox accepts, and how a callback is built.

Aurinko sends the browser only to return URLs registered for the application: the OAS's
``returnUrl`` "must be registered on the settings page in Aurinko portal". The sandbox's
stand-in for that settings page is ``Registered``: filled from ``SandboxConfig.return_urls``,
added to at run time (``SandboxApp.register_return_url``, ``POST /_sandbox/return-urls``),
matched exactly. Nothing registered: every return URL is refused, as in a new portal app.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

# The origin ends up in a Content-Security-Policy header: nothing that could end a directive.
_NETLOC = re.compile(r"[A-Za-z0-9.\-]+(?::[0-9]{1,5})?")


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    return parts


def problem(url: str) -> str | None:
    """Why ``url`` cannot be a return URL at all (None if it can)."""
    parts = _split(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "it must be an absolute http or https URL"
    if "@" in parts.netloc:
        return "it must not carry a user name or password"
    if not _NETLOC.fullmatch(parts.netloc):
        return "its host must be a plain host name or IPv4 address"
    if "#" in url:
        return "it must not have a fragment (#...)"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "it must not contain spaces or control characters"
    return None


class Registered:
    """The application's registered return URLs, matched exactly. Thread-safe: the
    authorize page reads it while a test hook adds to it."""

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._urls: dict[str, None] = {}
        for url in urls:
            self.add(url)

    def add(self, url: str) -> None:
        """Register ``url``; ``ValueError`` saying why when it cannot be a return URL."""
        why = problem(url)
        if why is not None:
            raise ValueError(f"return URL {url!r} is not usable: {why}")
        with self._lock:
            self._urls[url] = None

    def __contains__(self, url: object) -> bool:
        with self._lock:
            return url in self._urls

    def all(self) -> list[str]:
        with self._lock:
            return list(self._urls)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL that passed ``problem``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def with_query(url: str, params: list[tuple[str, str]]) -> str:
    """``url`` with ``params`` appended to whatever query it already has."""
    parts = urlsplit(url)
    extra = urlencode(params)
    base = parts.query.rstrip("&")
    query = f"{base}&{extra}" if base else extra
    return urlunsplit(parts._replace(query=query))
