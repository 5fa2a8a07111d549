"""What one CardDAV request carries between the WSGI wrapper and the storage (same thread).

Radicale stands between the two: it calls the storage with paths and its own parse of the
request, and has no channel for anything else (no environ, no return value beyond an item).
So the wrapper opens a scope (``request_scope``) holding a ``RequestContext``, and the
storage finds it with ``current()``. Each part has one writer:

- **Set by the wrapper** before Radicale runs, read by the storage: ``path``, ``sent`` (a
  PUT's card as the client sent it, parsed once for the whole request), ``vcard_version``,
  ``listing`` (the listing the wrapper streams, its kind and what it names).
- **The storage's own memo** for the request (``memo``): what it already looked up and how
  long the request waits for pulls. Nothing else reads it.
- **Reported by the storage**, read by the wrapper once Radicale has answered: ``outcome``
  (why a card was refused, whether the stored card differs from the one sent), and the book
  and hrefs a listing covers (``listing.book``, ``listing.hrefs``: what Radicale reached
  under its own login and rights checks). Only Radicale's call of the storage can tell
  these, and it passes nothing back but an item's etag.

Outside the wrapper (a plain Radicale) ``current()`` is an empty context: the storage then
reads Radicale's parse and reports to nobody.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bridge.mapping import MappingError, ParsedCard, from_vcard

from .listing import Listing


class SentCard:
    """A PUT's body exactly as the client sent it (Radicale stores only its vobject
    re-serialization, which mangles real cards) and the mapping's reading of it, made at most
    once per request: the wrapper reads a body of several cards to say why it is refused,
    the storage stores it."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self._parsed: ParsedCard | None = None
        self._refused: MappingError | None = None

    def parsed(self) -> ParsedCard:
        """The card as the mapping reads it; MappingError for a body that is not one."""
        if self._parsed is None and self._refused is None:
            try:
                self._parsed = from_vcard(self.body)
            except MappingError as exc:
                self._refused = exc
        if self._refused is not None:
            raise self._refused
        assert self._parsed is not None
        return self._parsed


@dataclass
class Memo:
    """What the storage already looked up for this request, by path: Radicale asks discover
    for the same book two or three times in one PUT, and upload for the card it discovered
    (None: looked up, and not there)."""

    found: dict[str, Any] = field(default_factory=dict)
    # When this request stops waiting for pulls (monotonic; set at its first look): Radicale
    # takes the read lock more than once per request, and each time the store is asked for
    # freshness, but the request as a whole waits ``request_wait`` at most.
    wait_until: float | None = None


@dataclass
class Outcome:
    """What a PUT's upload reports for the answer."""

    error: str | None = None  # the reason for a 4xx, to put into the response body
    stored_differs: bool = False  # the stored card is not what was sent: no ETag


@dataclass
class RequestContext:
    # Set by the wrapper.
    path: str | None = None  # the request's path (None outside the wrapper)
    sent: SentCard | None = None  # a PUT's card as sent
    no_card: bool = False  # PUT: the body holds no BEGIN:VCARD (Radicale's 400 says nothing)
    vcard_version: str | None = None  # the version the client asked for, if any
    listing: Listing | None = None  # a listing the wrapper streams from the store
    # The storage's own.
    memo: Memo = field(default_factory=Memo)
    # Reported by the storage.
    outcome: Outcome = field(default_factory=Outcome)


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
