"""RFC 6578 sync tokens over the store's change log: ``<prefix>:<epoch>:<seq>``."""

from __future__ import annotations

PREFIX = "urn:x-aurinko-bridge:sync"


def make_token(epoch: str, book_id: int, seq: int) -> str:
    """The epoch names the store and the book, so a token from elsewhere is recognised."""
    return f"{PREFIX}:{epoch}-{book_id}:{seq}"


def parse_token(token: str, epoch: str, book_id: int, current: int, floor: int) -> int:
    """The sequence number in ``token``; ValueError (Radicale: 403 valid-sync-token, the
    client resyncs) for foreign, malformed, future or pruned tokens, never "empty"."""
    prefix, _, rest = token.rpartition(":")
    expected = f"{PREFIX}:{epoch}-{book_id}"
    if prefix != expected:
        raise ValueError(f"sync token {token!r} is not from this address book")
    if not rest.isdigit():
        raise ValueError(f"malformed sync token {token!r}")
    seq = int(rest)
    if seq > current:
        raise ValueError(f"sync token {token!r} is from the future")
    if seq < floor:
        raise ValueError(f"sync token {token!r} is older than the kept history")
    return seq
