"""Retries, backoff, timeouts and token expiry against every fault kind of the sandbox."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from bridge.aurinko import (
    AurinkoClient,
    RateLimitedError,
    RetryPolicy,
    TokenExpiredError,
    UnavailableError,
)
from bridge.aurinko.retry import parse_retry_after
from bridge.sandbox import SandboxApp
from tests.conftest import TOKEN


def test_rate_limited_retries_honour_retry_after_then_give_up(
    client: AurinkoClient, sandbox_app: SandboxApp, sleeps
) -> None:
    sandbox_app.set_faults(error_rate=1.0, error_statuses=(429,), retry_after=2)
    with pytest.raises(RateLimitedError) as info:
        client.get("anything")
    assert info.value.status == 429
    assert info.value.retry_after == 2
    assert sleeps.calls == [2, 2, 2]  # max_attempts=4: three waits, each the server's hint


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_with_growing_backoff(
    client: AurinkoClient, sandbox_app: SandboxApp, sleeps, status: int
) -> None:
    sandbox_app.set_faults(error_rate=1.0, error_statuses=(status,), retry_after=None)
    with pytest.raises(UnavailableError) as info:
        client.start_sync()
    assert info.value.status == status
    assert len(sleeps.calls) == 3
    ceilings = [0.01, 0.02, 0.04]
    assert all(c / 2 <= s <= c for s, c in zip(sleeps.calls, ceilings, strict=True))


def test_intermittent_faults_are_ridden_out(make_client, sandbox_app: SandboxApp, sleeps) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=12, base_delay=0.001, max_delay=0.01))
    ids = [client.create({"nickName": f"n{i}"}).id for i in range(6)]
    sandbox_app.set_faults(error_rate=0.5, error_statuses=(429, 500, 503), retry_after=None, seed=7)
    pages = list(client.iter_updated(client.start_sync().updated_token))
    assert sorted(r["id"] for p in pages for r in p.records) == sorted(ids)
    assert sleeps.calls  # some faults really happened and were retried


def test_post_is_not_retried_after_a_500(
    client: AurinkoClient, sandbox_app: SandboxApp, sleeps
) -> None:
    sandbox_app.set_faults(error_rate=1.0, error_statuses=(500,), retry_after=None)
    with pytest.raises(UnavailableError) as info:
        client.create({"nickName": "once"})
    assert sleeps.calls == []
    assert info.value.may_have_applied is True


def test_post_is_retried_after_a_503(
    client: AurinkoClient, sandbox_app: SandboxApp, sleeps
) -> None:
    sandbox_app.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)
    with pytest.raises(UnavailableError) as info:
        client.create({"nickName": "never"})
    assert len(sleeps.calls) == 3
    assert info.value.may_have_applied is False
    sandbox_app.set_faults(error_rate=0.0)
    assert sandbox_app.dump(TOKEN) == []


def test_expired_delta_token_after_compaction(
    client: AurinkoClient, sandbox_app: SandboxApp
) -> None:
    client.create({"nickName": "x"})
    start = client.start_sync()
    token = list(client.iter_updated(start.updated_token))[-1].next_delta_token
    assert token
    client.create({"nickName": "y"})
    sandbox_app.compact_history()
    with pytest.raises(TokenExpiredError) as info:
        list(client.iter_updated(token))
    assert info.value.status == 410
    assert info.value.code == "syncToken.expired"


@pytest.mark.sandbox(token_ttl=60)
def test_expired_delta_token_after_ttl(client: AurinkoClient, sandbox_app: SandboxApp) -> None:
    start = client.start_sync()
    token = list(client.iter_deleted(start.deleted_token))[-1].next_delta_token
    assert token
    now = time.time()
    sandbox_app.set_clock(lambda: now + 30)
    list(client.iter_deleted(token))  # still young enough
    sandbox_app.set_clock(lambda: now + 61)
    with pytest.raises(TokenExpiredError) as info:
        list(client.iter_deleted(token))
    assert info.value.status == 410


def test_malformed_token_is_token_expired(client: AurinkoClient, sleeps) -> None:
    with pytest.raises(TokenExpiredError) as info:
        list(client.iter_updated("garbage-token"))
    assert info.value.status == 400
    assert info.value.code == "token.notValid"
    assert sleeps.calls == []


def test_every_call_has_a_timeout(make_socket_client, sandbox_app: SandboxApp) -> None:
    client = make_socket_client(timeout=0.2, retry=RetryPolicy(max_attempts=2, base_delay=0.001))
    sandbox_app.set_faults(latency=1.0)
    with pytest.raises(UnavailableError) as info:
        client.start_sync()
    assert "Timeout" in str(info.value)


def test_dropped_connections_are_retried_for_reads(
    make_socket_client, sandbox_app: SandboxApp, sleeps
) -> None:
    client = make_socket_client()
    sandbox_app.set_faults(drop_rate=1.0)
    with pytest.raises(UnavailableError):
        client.start_sync()
    assert len(sleeps.calls) == 3
    sandbox_app.set_faults(drop_rate=0.0)
    assert client.start_sync().updated_token


def test_lost_create_response_is_reported_as_maybe_applied(
    make_socket_client, sandbox_app: SandboxApp, sleeps
) -> None:
    client = make_socket_client()
    sandbox_app.set_faults(drop_after_rate=1.0)
    with pytest.raises(UnavailableError) as info:
        client.create({"nickName": "lost reply"})
    assert info.value.may_have_applied is True
    assert sleeps.calls == []  # a POST whose reply was lost is never sent twice
    sandbox_app.set_faults(drop_after_rate=0.0)
    assert [c["nickName"] for c in sandbox_app.dump(TOKEN)] == ["lost reply"]


def test_sync_start_polling_is_bounded(make_client, sandbox_app: SandboxApp) -> None:
    client = make_client(ready_timeout=0.05, retry=RetryPolicy(base_delay=0.02, max_delay=0.02))
    sandbox_app.set_faults(not_ready_count=1000)
    with pytest.raises(UnavailableError, match="not ready"):
        client.start_sync()


def test_token_never_reaches_logs_or_errors(
    make_client, sandbox_app: SandboxApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client()
    sandbox_app.set_faults(error_rate=1.0, error_statuses=(500,), retry_after=None)
    with pytest.raises(UnavailableError) as info:
        client.start_sync()
    sandbox_app.set_faults(error_rate=0.0)
    client.create({"nickName": "log me"})
    assert caplog.records  # the retries and requests really were logged
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert TOKEN not in str(info.value) and TOKEN not in repr(client)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480) == 10
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_408_is_retried_and_other_4xx_are_not(sleeps) -> None:
    statuses = iter([408, 408, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        body = {"ready": True, "syncUpdatedToken": "u", "syncDeletedToken": "d"}
        return httpx.Response(status, json=body if status == 200 else {"code": "timeout"})

    transport = httpx.MockTransport(handler)
    with AurinkoClient("t", "http://x.invalid/v1", transport=transport, sleep=sleeps) as c:
        assert c.start_sync().updated_token == "u"
    assert len(sleeps.calls) == 2
