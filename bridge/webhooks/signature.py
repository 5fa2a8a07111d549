"""Aurinko's request signatures: ``X-Aurinko-Signature`` is the HMAC-SHA256, in hex, of
``v0:{X-Aurinko-Request-Timestamp}:{raw body}`` keyed with the application's signing
secret (docs.aurinko.io, Webhooks API, "Authentication").

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
        timestamp, given = timestamp.strip(), signature.strip().lower()
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            return "the request's timestamp is not a number of seconds"
        if abs(self._clock() - int(timestamp)) > self._max_skew:
            return "the request's timestamp is too far from now"
        expected = sign(self._secret, timestamp, body)
        # Constant time on every path: a malformed signature is compared as well.
        well_formed = len(given) == _HEX_LENGTH and given.isascii()
        candidate = given if well_formed else "0" * _HEX_LENGTH
        if not hmac.compare_digest(expected, candidate) or not well_formed:
            return "the request's signature does not match"
        return None

    def remember(self, timestamp: str, signature: str) -> bool:
        """Record an authenticated request's signature: False if it was recorded before
        (the same request again), True the first time."""
        given = signature.strip().lower()
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
                self._seen.pop(signature.strip().lower(), None)

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
