"""``Verifier``: Aurinko's signature scheme, the clock window, and the memory that tells a
notification seen before from a new one."""

from __future__ import annotations

import base64
import hashlib
import hmac

from bridge.webhooks import Verifier, sign

SECRET = "signing-secret-0123456789"
NOW = 1_750_000_000
BODY = b'{"subscription": 7, "resource": "/contacts", "payloads": []}'


def verifier(skew: float = 300, **kwargs: object) -> Verifier:
    return Verifier(SECRET, skew, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def test_the_signature_is_the_documented_hmac() -> None:
    base = b"v0:%d:" % NOW + BODY
    expected = hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    assert sign(SECRET, str(NOW), BODY) == expected


def test_a_signed_fresh_request_passes_and_is_new_once() -> None:
    check = verifier()
    signature = sign(SECRET, str(NOW), BODY)
    assert check.authenticate(str(NOW), signature, BODY) is None
    assert check.remember(str(NOW), signature) is True
    # Sent again: still authentic (a redelivery is answered), but not new.
    assert check.authenticate(str(NOW), signature, BODY) is None
    assert check.remember(str(NOW), signature) is False
    # The same signature in capitals is the same signature.
    assert check.remember(str(NOW), signature.upper()) is False
    check.release(signature.upper())  # not served after all: new again
    assert check.remember(str(NOW), signature) is True


def test_authenticating_remembers_nothing() -> None:
    """Validation handshakes are only authenticated: two books checked in one second
    carry one signature (an empty body each), and both pass."""
    check = verifier()
    empty = sign(SECRET, str(NOW), b"")
    assert check.authenticate(str(NOW), empty, b"") is None
    assert check.authenticate(str(NOW), empty, b"") is None
    assert check.remembered() == 0


def test_hex_in_capitals_is_accepted() -> None:
    assert verifier().authenticate(str(NOW), sign(SECRET, str(NOW), BODY).upper(), BODY) is None


def test_unsigned_and_half_signed_requests_are_refused() -> None:
    check = verifier()
    signature = sign(SECRET, str(NOW), BODY)
    assert "not signed" in (check.authenticate(None, None, BODY) or "")
    assert "not signed" in (check.authenticate(str(NOW), None, BODY) or "")
    assert "not signed" in (check.authenticate(None, signature, BODY) or "")
    assert "not signed" in (check.authenticate("", "", BODY) or "")


def test_forged_requests_are_refused() -> None:
    check = verifier()
    good = sign(SECRET, str(NOW), BODY)
    refusals = [
        check.authenticate(str(NOW), sign("another-secret", str(NOW), BODY), BODY),
        check.authenticate(str(NOW), good, BODY + b" "),  # the body changed
        check.authenticate(str(NOW + 1), good, BODY),  # the timestamp changed
        check.authenticate(str(NOW), good[:-2], BODY),
        check.authenticate(str(NOW), "zz" * 32, BODY),
        check.authenticate(str(NOW), "é" * 64, BODY),
        check.authenticate(str(NOW), "sha256=" + good, BODY),
    ]
    assert all(r is not None and "signature" in r for r in refusals), refusals


def test_stale_and_future_timestamps_are_refused() -> None:
    check = verifier(skew=300)
    for when in (NOW - 301, NOW + 301, 0):
        signature = sign(SECRET, str(when), BODY)
        assert "too far" in (check.authenticate(str(when), signature, BODY) or "")
    for when in (NOW - 300, NOW + 300):
        assert check.authenticate(str(when), sign(SECRET, str(when), BODY), BODY) is None


def test_timestamps_must_be_whole_seconds() -> None:
    check = verifier()
    for bad in ("1.5e9", "-5", "soon", "1" * 20):
        assert "timestamp" in (check.authenticate(bad, sign(SECRET, bad, BODY), BODY) or ""), bad
    assert "timestamp" in (check.authenticate("١٢٣", sign(SECRET, "123", BODY), BODY) or "")


def test_signatures_are_forgotten_once_their_time_is_up() -> None:
    now = [float(NOW)]
    check = Verifier(SECRET, 10, clock=lambda: now[0])
    first = sign(SECRET, str(NOW), BODY)
    assert check.remember(str(NOW), first)
    now[0] += 11  # the first one's timestamp is too old now anyway
    later = sign(SECRET, str(NOW + 11), BODY)
    assert check.remember(str(NOW + 11), later)
    assert check.remembered() == 1
    assert "too far" in (check.authenticate(str(NOW), first, BODY) or "")


def test_the_memory_is_bounded() -> None:
    check = verifier(max_seen=5)
    for n in range(20):
        body = b"%d" % n
        assert check.remember(str(NOW), sign(SECRET, str(NOW), body))
    assert check.remembered() == 5


def test_base64_of_the_same_hmac_is_accepted_and_is_the_same_request() -> None:
    """The vendor does not say how the digest is written: hex (what receivers of the real
    service compare) and base64 (standard or URL-safe, padded or not) of the one HMAC pass;
    anything else does not, and the replay memory knows a request in either spelling."""
    check = verifier()
    digest = bytes.fromhex(sign(SECRET, str(NOW), BODY))
    spellings = [
        base64.b64encode(digest).decode(),
        base64.b64encode(digest).decode().rstrip("="),
        base64.urlsafe_b64encode(digest).decode(),
    ]
    for spelling in spellings:
        assert check.authenticate(str(NOW), spelling, BODY) is None, spelling
    assert check.remember(str(NOW), spellings[0]) is True
    assert check.remember(str(NOW), sign(SECRET, str(NOW), BODY)) is False  # the same one
    wrong = bytes.fromhex(sign("another-secret", str(NOW), BODY))
    for forged in (
        base64.b64encode(wrong).decode(),
        base64.b64encode(digest[:31]).decode(),
        "@" * 44,
    ):
        assert "does not match" in (check.authenticate(str(NOW), forged, BODY) or "")
