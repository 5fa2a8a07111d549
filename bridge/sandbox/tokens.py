"""Delta, page and list tokens: opaque, URL-safe, HMAC-signed strings.

A token is ``base64url(json payload) + "." + base64url(hmac)``. The payload is readable,
but the signature (keyed by a per-database secret) means a client can neither forge a
token nor edit one: any change answers 400 ``token.notValid``. Because the secret lives
in the database, tokens survive a restart of the sandbox.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal

Chain = Literal["updated", "deleted"]
_CHAINS: tuple[Chain, ...] = ("updated", "deleted")
_SIG_BYTES = 18
_DOMAIN = b"aurinko-sandbox-token-v1\x00"


@dataclass(frozen=True)
class DeltaToken:
    """Where an incremental run starts: changes with sequence > ``seq``.

    ``full`` marks the initial ``syncUpdatedToken``: a full load of every live contact,
    which needs no change-log history and so survives compaction.
    """

    account: int
    chain: Chain
    seq: int
    full: bool
    issued: float


@dataclass(frozen=True)
class PageToken:
    """A position inside one run: changes in (start, high], after (after_seq, after_id)."""

    account: int
    chain: Chain
    start: int
    high: int
    full: bool
    after_seq: int
    after_id: str
    issued: float


@dataclass(frozen=True)
class ListToken:
    """A position in ``GET /v1/contacts``: contacts with id > ``after_id``."""

    account: int
    after_id: str
    issued: float


Token = DeltaToken | PageToken | ListToken


class TokenInvalid(ValueError):
    """The string is not a token this database issued (malformed, tampered, unknown kind)."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise TokenInvalid("not base64url") from exc


def _to_payload(token: Token) -> dict[str, Any]:
    if isinstance(token, DeltaToken):
        return {"k": "d", "a": token.account, "c": token.chain, "s": token.seq,
                "f": token.full, "t": token.issued}  # fmt: skip
    if isinstance(token, PageToken):
        return {"k": "p", "a": token.account, "c": token.chain, "s": token.start,
                "h": token.high, "f": token.full, "as": token.after_seq,
                "ai": token.after_id, "t": token.issued}  # fmt: skip
    return {"k": "l", "a": token.account, "ai": token.after_id, "t": token.issued}


def _field(payload: dict[str, Any], key: str, kind: type) -> Any:
    value = payload.get(key)
    # bool is an int subclass; never let one stand in for the other.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TokenInvalid(f"bad field {key!r}")
    return value


def _chain(payload: dict[str, Any]) -> Chain:
    value = payload.get("c")
    for chain in _CHAINS:
        if value == chain:
            return chain
    raise TokenInvalid("bad chain")


def _issued(payload: dict[str, Any]) -> float:
    value = payload.get("t")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalid("bad issue time")
    return float(value)


def _from_payload(payload: dict[str, Any]) -> Token:
    kind = payload.get("k")
    account = _field(payload, "a", int)
    if kind == "d":
        return DeltaToken(account, _chain(payload), _field(payload, "s", int),
                          _field(payload, "f", bool), _issued(payload))  # fmt: skip
    if kind == "p":
        return PageToken(account, _chain(payload), _field(payload, "s", int),
                         _field(payload, "h", int), _field(payload, "f", bool),
                         _field(payload, "as", int), _field(payload, "ai", str),
                         _issued(payload))  # fmt: skip
    if kind == "l":
        return ListToken(account, _field(payload, "ai", str), _issued(payload))
    raise TokenInvalid("unknown token kind")


class TokenCodec:
    """Signs and verifies tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, _DOMAIN + payload, hashlib.sha256).digest()[:_SIG_BYTES]

    def encode(self, token: Token) -> str:
        payload = json.dumps(_to_payload(token), separators=(",", ":")).encode("utf-8")
        return f"{_b64encode(payload)}.{_b64encode(self._sign(payload))}"

    def decode(self, text: str) -> Token:
        body, dot, signature = text.partition(".")
        if not dot or not body or not signature:
            raise TokenInvalid("not a sandbox token")
        payload = _b64decode(body)
        if not hmac.compare_digest(_b64decode(signature), self._sign(payload)):
            raise TokenInvalid("bad signature")
        try:
            parsed = json.loads(payload)
        except ValueError as exc:  # cannot happen for a correctly signed token
            raise TokenInvalid("bad payload") from exc
        if not isinstance(parsed, dict):
            raise TokenInvalid("bad payload")
        return _from_payload(parsed)
