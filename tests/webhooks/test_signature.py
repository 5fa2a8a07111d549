"""``Verifier``: Aurinko's signature scheme, the clock window and replays."""

from __future__ import annotations

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


def test_a_signed_fresh_request_passes_once() -> None:
    check = verifier()
    signature = sign(SECRET, str(NOW), BODY)
    assert check.check(str(NOW), signature, BODY) is None
    assert "replay" in (check.check(str(NOW), signature, BODY) or "")
    # The same signature in capitals is the same signature: still a replay.
    assert "replay" in (check.check(str(NOW), signature.upper(), BODY) or "")


def test_hex_in_capitals_is_accepted() -> None:
    assert verifier().check(str(NOW), sign(SECRET, str(NOW), BODY).upper(), BODY) is None


def test_unsigned_and_half_signed_requests_are_refused() -> None:
    check = verifier()
    signature = sign(SECRET, str(NOW), BODY)
    assert "not signed" in (check.check(None, None, BODY) or "")
    assert "not signed" in (check.check(str(NOW), None, BODY) or "")
    assert "not signed" in (check.check(None, signature, BODY) or "")
    assert "not signed" in (check.check("", "", BODY) or "")


def test_forged_requests_are_refused() -> None:
    check = verifier()
    good = sign(SECRET, str(NOW), BODY)
    refusals = [
        check.check(str(NOW), sign("another-secret", str(NOW), BODY), BODY),
        check.check(str(NOW), good, BODY + b" "),  # the body changed
        check.check(str(NOW + 1), good, BODY),  # the timestamp changed
        check.check(str(NOW), good[:-2], BODY),
        check.check(str(NOW), "zz" * 32, BODY),
        check.check(str(NOW), "é" * 64, BODY),
        check.check(str(NOW), "sha256=" + good, BODY),
    ]
    assert all(r is not None and "signature" in r for r in refusals), refusals
    assert check.remembered() == 0


def test_stale_and_future_timestamps_are_refused() -> None:
    check = verifier(skew=300)
    for when in (NOW - 301, NOW + 301, 0):
        signature = sign(SECRET, str(when), BODY)
        assert "too far" in (check.check(str(when), signature, BODY) or "")
    for when in (NOW - 300, NOW + 300):
        assert check.check(str(when), sign(SECRET, str(when), BODY), BODY) is None


def test_timestamps_must_be_whole_seconds() -> None:
    check = verifier()
    for bad in ("1.5e9", "-5", "soon", "1" * 20):
        assert "timestamp" in (check.check(bad, sign(SECRET, bad, BODY), BODY) or ""), bad
    assert "timestamp" in (check.check("١٢٣", sign(SECRET, "123", BODY), BODY) or "")


def test_signatures_are_forgotten_once_their_time_is_up() -> None:
    now = [float(NOW)]
    check = Verifier(SECRET, 10, clock=lambda: now[0])
    first = sign(SECRET, str(NOW), BODY)
    assert check.check(str(NOW), first, BODY) is None
    now[0] += 11  # the first one's timestamp is too old now anyway
    later = sign(SECRET, str(NOW + 11), BODY)
    assert check.check(str(NOW + 11), later, BODY) is None
    assert check.remembered() == 1
    assert "too far" in (check.check(str(NOW), first, BODY) or "")


def test_the_memory_is_bounded() -> None:
    check = verifier(max_seen=5)
    for n in range(20):
        body = b"%d" % n
        assert check.check(str(NOW), sign(SECRET, str(NOW), body), body) is None
    assert check.remembered() == 5
