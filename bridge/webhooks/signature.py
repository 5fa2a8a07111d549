"""Aurinko's request signatures: ``X-Aurinko-Signature`` is the HMAC-SHA256 of
``v0:{X-Aurinko-Request-Timestamp}:{raw body}`` keyed with the application's signing
secret (docs.aurinko.io, Webhooks API, "Authentication"; the OAS's Webhooks tag).

Neither says how the digest is written in the header. Receivers of the real service found
in public code compare lowercase hex, which is what we expect first; base64 (standard or
URL-safe, padded or not) of the same digest is accepted too, since a service built on
Java (the OAS's own sample is Java) may well encode it so. Either way it is the one HMAC,
compared in constant time: accepting two spellings of it makes nothing forgeable.

``Verifier.authenticate`` accepts a request only if it is signed, its timestamp is within
``max_skew`` seconds of now and its signature matches (compared in constant time).
``Verifier.remember`` then tells a notification seen for the first time from one seen
before: Aurinko sends a notification again, byte for byte and with its signature, when it
did not get the 200 of an earlier attempt; that one is answered 200 again without new work.
Validation handshakes are never remembered: they all have an empty body, so two books
checked in one second carry one signature.

Signatures are remembered in memory, by this process, until their timestamp is too old to
pass anyway. Several instances behind one address do not share them, and need not: a
redelivery (or a replay) reaching another instance is a new notification there, which
costs one more incremental pull of its book (folded with any pull under way); keeping
them in the store would put a database write on every notification to save that pull.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

TIMESTAMP_HEADER = "HTTP_X_AURINKO_REQUEST_TIMESTAMP"  # as WSGI names the headers
SIGNATURE_HEADER = "HTTP_X_AURINKO_SIGNATURE"
MAX_SEEN = 10_000  # signatures remembered at most; the oldest are forgotten first
_HEX_LENGTH = 64
_DIGEST_LENGTH = 32


def _digest(signature: str) -> bytes | None:
    """The 32 bytes a signature header spells, in hex or base64; None if it spells none."""
    text = signature.strip()
    if not text.isascii():
        return None
    try:
        if len(text) == _HEX_LENGTH:
            return bytes.fromhex(text)
        padded = text + "=" * (-len(text) % 4)
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (ValueError, binascii.Error):
        return None
    return raw if len(raw) == _DIGEST_LENGTH else None


def _key(signature: str) -> str:
    """One request's key in the replay memory, whichever spelling its signature has."""
    digest = _digest(signature)
    return digest.hex() if digest is not None else signature.strip()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature Aurinko sends with ``body`` at ``timestamp`` (Unix seconds)."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


class Verifier:
    def __init__(
        self,
        secret: str,
        max_skew: float,
        *,
        clock: Callable[[], float] = time.time,
        max_seen: int = MAX_SEEN,
    ) -> None:
        self._secret = secret
        self._max_skew = max_skew
        self._clock = clock
        self._max_seen = max_seen
        self._seen: OrderedDict[str, float] = OrderedDict()  # signature -> when it expires
        self._lock = threading.Lock()

    def authenticate(self, timestamp: str | None, signature: str | None, body: bytes) -> str | None:
        """None when the request is Aurinko's and recent; else why it is refused."""
        if not timestamp or not signature:
            return "the request is not signed"
        timestamp = timestamp.strip()
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            return "the request's timestamp is not a number of seconds"
        if abs(self._clock() - int(timestamp)) > self._max_skew:
            return "the request's timestamp is too far from now"
        expected = bytes.fromhex(sign(self._secret, timestamp, body))
        # Constant time on every path: a malformed signature is compared as well.
        digest = _digest(signature)
        candidate = digest if digest is not None else bytes(len(expected))
        if not hmac.compare_digest(expected, candidate) or digest is None:
            return "the request's signature does not match"
        return None

    def remember(self, timestamp: str, signature: str) -> bool:
        """Record an authenticated request's signature: False if it was recorded before
        (the same request again), True the first time."""
        given = _key(signature)
        with self._lock:
            self._forget_expired(self._clock())
            if given in self._seen:
                return False
            self._seen[given] = int(timestamp.strip()) + self._max_skew
            while len(self._seen) > self._max_seen:
                self._seen.popitem(last=False)
        return True

    def release(self, signature: str | None) -> None:
        """Forget a signature that ``remember`` recorded when its request was not served
        after all (an unknown book, the store down): the sender's retry of it is then
        served in full, not answered as a notification already taken."""
        if signature:
            with self._lock:
                self._seen.pop(_key(signature), None)

    def _forget_expired(self, now: float) -> None:
        # Mostly in order of arrival, which is nearly that of expiry: stop at the first
        # one still valid (a late one is dropped at the latest when the set is full).
        while self._seen:
            signature, expires = next(iter(self._seen.items()))
            if expires >= now:
                return
            del self._seen[signature]

    def remembered(self) -> int:
        with self._lock:
            return len(self._seen)
