"""Return URLs of the OAuth flow: which ones the sandbox accepts, and how a callback is built.

Aurinko sends the browser only to return URLs registered in its portal. The sandbox's
stand-in for that list is ``SandboxConfig.return_urls``: matched exactly when given; when
empty, any plain-HTTP URL on the loopback host (``127.0.0.1`` or ``localhost``, any port)
is accepted, since only a program on this machine can listen there.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
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


def is_loopback(url: str) -> bool:
    parts = _split(url)
    return (
        problem(url) is None
        and parts is not None
        and parts.scheme == "http"
        and parts.hostname in LOOPBACK_HOSTS
    )


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
