"""What the WSGI wrapper learns about a request and hands to the storage (same thread).

Radicale re-serializes PUT bodies through vobject before a storage plugin sees them and
has no vCard version negotiation; the wrapper sees the raw request, the plugin the parsed
one, and this thread-local is the channel between the two.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .listing import Listing


@dataclass
class RequestContext:
    raw_body: bytes | None = None  # a PUT body exactly as the client sent it
    vcard_version: str | None = None  # the version the client asked for, if any
    error: str | None = None  # the reason for a 4xx, to put into the response body
    no_card: bool = False  # PUT: the body holds no BEGIN:VCARD (Radicale's 400 says nothing)
    stored_differs: bool = False  # PUT: the stored card is not what was sent: no ETag
    listing: Listing | None = None  # a listing the wrapper streams from the store
    path: str | None = None  # the request's path (None outside the wrapper)
    # What this request already looked up, by path: Radicale asks discover for the same
    # book two or three times in one PUT, and upload for the item it discovered.
    found: dict[str, Any] = field(default_factory=dict)
    # When this request stops waiting for pulls (monotonic; set at its first look): Radicale
    # takes the read lock more than once per request, and each time the store is asked for
    # freshness, but the request as a whole waits ``request_wait`` at most.
    wait_until: float | None = None


_local = threading.local()


def current() -> RequestContext:
    """This request's context; an empty one outside the wrapper (plain Radicale)."""
    ctx: RequestContext | None = getattr(_local, "ctx", None)
    return ctx if ctx is not None else RequestContext()


@contextmanager
def request_scope(ctx: RequestContext) -> Iterator[RequestContext]:
    _local.ctx = ctx
    try:
        yield ctx
    finally:
        _local.ctx = None
