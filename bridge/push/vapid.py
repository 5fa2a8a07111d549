"""The server's VAPID identity (RFC 8292): one P-256 key pair per store, made on first use
and kept in the store's ``meta`` table, so that every instance sharing a PostgreSQL store
signs with the key its clients' subscriptions are bound to."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from ..store.push import PushStore
from .protocol import b64encode

META_KEY = "webdav_push_vapid_key"  # the private key: its 32-byte scalar, base64url
DEFAULT_CONTACT = "mailto:aurinko-bridge@localhost"
TOKEN_LIFETIME = 12 * 3600  # RFC 8292 allows at most 24 hours
_RENEW = 3600  # a signed token is reused until this close to its expiry


def new_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return b64encode(key.private_numbers().private_value.to_bytes(32, "big"))


class Vapid:
    """Signs the ``Authorization`` header of push messages to one push service."""

    def __init__(self, private_key: str, contact: str = DEFAULT_CONTACT) -> None:
        self._vapid = Vapid02.from_raw(private_key.encode("ascii"))
        # py_vapid wants a mailto: or https: ``sub``; the configuration checks the form.
        self._vapid.conf = {"no-strict": True}
        self.contact = contact
        point = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_key = b64encode(point)  # what clients bind their subscriptions to
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def of_store(cls, store: PushStore, contact: str = DEFAULT_CONTACT) -> Vapid:
        return cls(store.meta_value(META_KEY, new_private_key), contact)

    def authorization(self, endpoint: str, now: float | None = None) -> str:
        """``vapid t=<JWT>,k=<public key>`` for the push service of ``endpoint``."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time() if now is None else now
        with self._lock:
            cached = self._tokens.get(audience)
            if cached is not None and cached[1] - now > _RENEW:
                return cached[0]
            expires = int(now) + TOKEN_LIFETIME
            claims = {"aud": audience, "exp": expires, "sub": self.contact}
            header = str(self._vapid.sign(claims)["Authorization"])
            self._tokens[audience] = (header, float(expires))
            return header
