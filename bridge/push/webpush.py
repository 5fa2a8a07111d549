"""One Web Push message to one subscription: encrypted for the client (RFC 8291,
aes128gcm), signed for the push service (VAPID, RFC 8292), POSTed to its push resource
(RFC 8030)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

import httpx

from ..store.push import Subscription
from .protocol import b64decode
from .transport import deadline
from .vapid import Vapid

log = logging.getLogger("bridge.push")


class Outcome(Enum):
    SENT = "sent"
    GONE = "gone"  # the push service no longer knows the subscription (404, 410): drop it
    FAILED = "failed"  # this time only (unreachable, 429, 5xx...): the next change tries again


@dataclass(frozen=True)
class Delivery:
    """How a message is sent: its lifetime at the push service (a newer message of one
    ``Topic`` replaces an undelivered older one, RFC 8030 5.4), and how long the sender
    gives a push service: a live one answers in well under a second, so a dead or slow one
    is given up on soon and holds a sender briefly."""

    ttl: int = 24 * 3600
    urgency: str = "normal"
    connect_timeout: float = 3.0
    timeout: float = 10.0  # the whole exchange: connection, TLS, request and answer


def encrypt(subscription: Subscription, payload: bytes) -> bytes:
    """``payload`` as one aes128gcm record for the subscription's keys (RFC 8291 3.4):
    ECDH with a fresh key pair of the server's, whose public half is the record's key id."""
    import http_ece  # here: see ``protocol._public_key``
    from cryptography.hazmat.primitives.asymmetric import ec

    ephemeral = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        payload,
        private_key=ephemeral,
        dh=b64decode(subscription.public_key),
        auth_secret=b64decode(subscription.auth_secret),
        version="aes128gcm",
    )
    return body


def send(
    client: httpx.Client,
    vapid: Vapid,
    subscription: Subscription,
    payload: bytes,
    topic: str,
    delivery: Delivery,
) -> Outcome:
    try:
        body = encrypt(subscription, payload)
        authorization = vapid.authorization(subscription.endpoint)
    except Exception as exc:  # a key the client sent that cannot be used after all
        log.warning("push subscription %d cannot be encrypted for: %s", subscription.id, exc)
        return Outcome.FAILED
    headers = {
        "Authorization": authorization,
        "Content-Encoding": "aes128gcm",
        # The draft's type for the message (which the client reads once decrypted).
        "Content-Type": 'application/xml; charset="UTF-8"',
        "TTL": str(delivery.ttl),
        "Urgency": delivery.urgency,
        "Topic": topic,
    }
    timeout = httpx.Timeout(delivery.timeout, connect=delivery.connect_timeout)
    try:
        with deadline(delivery.timeout):
            response = client.post(
                subscription.endpoint, content=body, headers=headers, timeout=timeout
            )
    except httpx.HTTPError as exc:
        log.warning("push to subscription %d failed: %s", subscription.id, exc)
        return Outcome.FAILED
    if response.status_code in (404, 410):
        log.info(
            "push service forgot subscription %d (%d): removing it",
            subscription.id,
            response.status_code,
        )
        return Outcome.GONE
    if not response.is_success:
        log.warning(
            "push service refused a message for subscription %d: %d %s",
            subscription.id,
            response.status_code,
            response.text[:200],
        )
        return Outcome.FAILED
    return Outcome.SENT
