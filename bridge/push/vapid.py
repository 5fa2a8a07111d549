"""The server's VAPID identity (RFC 8292): one P-256 key pair per store, made on first use
and kept in the store's ``meta`` table, so that every instance sharing a PostgreSQL store
signs with the key its clients' subscriptions are bound to."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from ..store.push import PushStore
from .protocol import b64encode

META_KEY = "webdav_push_vapid_key"  # the private key: its 32-byte scalar, base64url
DEFAULT_CONTACT = "mailto:aurinko-bridge@localhost"
TOKEN_LIFETIME = 12 * 3600  # RFC 8292 allows at most 24 hours
_RENEW = 3600  # a signed token is reused until this close to its expiry


def new_private_key() -> str:
    from cryptography.hazmat.primitives.asymmetric import ec  # see ``_signer``

    key = ec.generate_private_key(ec.SECP256R1())
    return b64encode(key.private_numbers().private_value.to_bytes(32, "big"))


class Vapid:
    """Signs the ``Authorization`` header of push messages to one push service.

    The key is read (or made) on first use, not at start: the cryptography library it needs
    costs about 10 MiB of memory, which a server whose clients never ask for push saves."""

    def __init__(
        self, private_key: str | Callable[[], str], contact: str = DEFAULT_CONTACT
    ) -> None:
        self._private_key = private_key
        self.contact = contact
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def of_store(cls, store: PushStore, contact: str = DEFAULT_CONTACT) -> Vapid:
        return cls(lambda: store.meta_value(META_KEY, new_private_key), contact)

    @cached_property
    def _signer(self) -> Any:
        from py_vapid import Vapid02

        key = self._private_key if isinstance(self._private_key, str) else self._private_key()
        signer = Vapid02.from_raw(key.encode("ascii"))
        # py_vapid wants a mailto: or https: ``sub``; the configuration checks the form.
        signer.conf = {"no-strict": True}
        return signer

    @cached_property
    def public_key(self) -> str:
        """What clients bind their subscriptions to."""
        from cryptography.hazmat.primitives import serialization

        point = self._signer.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64encode(point)

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
            header = str(self._signer.sign(claims)["Authorization"])
            self._tokens[audience] = (header, float(expires))
            return header
