"""The sandbox's Webhooks API: subscriptions, the validation handshake, signed notifications,
retries and deactivation, notification faults and the test hooks; all over real loopback
sockets, with a small receiver recording what it gets."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridge.sandbox import SandboxApp, SandboxConfig, WebhookFaults, serve_in_thread
from bridge.sandbox.cli import add_arguments, build_config
from tests.conftest import OTHER_TOKEN, TOKEN
from tests.webhooks.conftest import wait_for

SECRET = "whsec-test-0123456789"
pytestmark = pytest.mark.sandbox(
    signing_secret=SECRET, webhook_retry_delay=0.01, webhook_timeout=2.0
)


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST.

    ``handshake(token)`` gives the answer to a validation request, ``notify(request)``
    the answer to a notification: (status, body).
    """

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    handshake: Callable[[str], tuple[int, bytes]] = lambda token: (200, token.encode())
    notify: Callable[[Received], tuple[int, bytes]] = lambda request: (200, b"")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def notifications(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if "validationToken" not in r.query]

    def validations(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if "validationToken" in r.query]

    def payloads(self) -> list[dict[str, Any]]:
        return [p for r in self.notifications() for p in r.json()["payloads"]]


def _serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            received = Received(
                parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length), time.monotonic(),
            )  # fmt: skip
            with receiver.lock:
                receiver.requests.append(received)
            if "validationToken" in received.query:
                status, body = receiver.handshake(received.query["validationToken"][0])
            else:
                status, body = receiver.notify(received)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/aurinko/hook"
    return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    handle = Receiver()
    server = _serve(handle)
    yield handle
    server.shutdown()
    server.server_close()


@pytest.fixture
def app(sandbox_app: SandboxApp) -> Iterator[SandboxApp]:
    yield sandbox_app
    sandbox_app.close()


@pytest.fixture
def client(app: SandboxApp, live_sandbox: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=live_sandbox, headers=headers, trust_env=False, timeout=10) as c:
        yield c


@pytest.fixture
def other(live_sandbox: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    with httpx.Client(base_url=live_sandbox, headers=headers, trust_env=False, timeout=10) as c:
        yield c


def _admin(client: httpx.Client) -> httpx.Client:
    return httpx.Client(
        base_url=str(client.base_url).removesuffix("/v1/").removesuffix("/v1"),
        headers={"Authorization": client.headers["Authorization"]}, trust_env=False, timeout=10,
    )  # fmt: skip


def _subscribe(client: httpx.Client, url: str) -> dict[str, Any]:
    response = client.post("/subscriptions", json={"resource": "/contacts", "notificationUrl": url})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _create(client: httpx.Client, nick: str = "x") -> dict[str, Any]:
    response = client.post("/contacts", json={"nickName": nick})
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _settle(app: SandboxApp) -> None:
    assert app.wait_for_deliveries(10), "deliveries still under way"


def _signed_correctly(request: Received, secret: str = SECRET) -> bool:
    timestamp = request.headers["x-aurinko-request-timestamp"]
    base = b"v0:" + timestamp.encode() + b":" + request.body
    expected = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers["x-aurinko-signature"])


def _error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "requestId"}, body
    return body


def _all_subscriptions(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/subscriptions", params={"includeInactive": "true"})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


# --- subscribing -------------------------------------------------------------------------


def test_an_echoed_handshake_makes_an_active_subscription(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    before = int(time.time())
    created = _subscribe(client, receiver.url)
    assert created == {
        "id": created["id"], "resource": "/contacts", "notificationUrl": receiver.url,
        "active": True, "disabledByBilling": False, "filters": [],
    }  # fmt: skip
    assert isinstance(created["id"], int)
    [validation] = receiver.validations()
    assert validation.path == "/aurinko/hook"
    assert validation.headers["content-type"] == "text/plain; charset=utf-8"
    assert validation.body == b""
    assert _signed_correctly(validation)
    assert before <= int(validation.headers["x-aurinko-request-timestamp"]) <= time.time() + 1
    assert receiver.notifications() == []
    page = client.get("/subscriptions").json()
    assert page == {"records": [created], "offset": 0, "totalSize": 1, "done": True}
    assert client.get(f"/subscriptions/{created['id']}").json() == created
    assert app.subscriptions(TOKEN) == [created]
    assert app.subscriptions(OTHER_TOKEN) == []


def test_the_validation_token_is_added_to_a_query_the_url_already_has(
    client: httpx.Client, receiver: Receiver
) -> None:
    _subscribe(client, receiver.url + "?book=7")
    [validation] = receiver.validations()
    assert validation.query["book"] == ["7"]
    assert len(validation.query["validationToken"]) == 1


def _slow_echo(token: str) -> tuple[int, bytes]:
    time.sleep(1.5)
    return 200, token.encode()


@pytest.mark.sandbox(signing_secret=SECRET, webhook_timeout=0.5)
@pytest.mark.parametrize(
    ("handshake", "reason"),
    [
        (lambda token: (200, b""), "did not answer with the validation token"),
        (lambda token: (200, f'"{token}"'.encode()), "did not answer with the validation token"),
        (lambda token: (200, token.encode() + b"\n"), "did not answer with the validation token"),
        (lambda token: (404, token.encode()), "answered HTTP 404"),
        (lambda token: (500, b""), "answered HTTP 500"),
        (lambda token: (204, b""), "answered HTTP 204"),
        (_slow_echo, "no answer within 0.5 s"),
    ],
    ids=["empty", "json-quoted", "newline", "404", "500", "204", "timeout"],
)
def test_a_failed_handshake_refuses_the_subscription(
    client: httpx.Client,
    receiver: Receiver,
    handshake: Callable[[str], tuple[int, bytes]],
    reason: str,
) -> None:
    receiver.handshake = handshake
    response = client.post(
        "/subscriptions", json={"resource": "/contacts", "notificationUrl": receiver.url}
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "subscription.validationFailed"
    assert reason in error["message"]
    assert len(receiver.validations()) == 1
    assert _all_subscriptions(client) == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_receiver_that_is_down_refuses_the_subscription(client: httpx.Client) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    response = client.post("/subscriptions", json={"resource": "/contacts", "notificationUrl": url})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "subscription.validationFailed"
    assert "connection refused" in error["message"]
    assert _all_subscriptions(client) == []


@pytest.mark.sandbox(signing_secret=None)
def test_without_a_signing_secret_subscriptions_are_refused(
    client: httpx.Client, receiver: Receiver
) -> None:
    response = client.post(
        "/subscriptions", json={"resource": "/contacts", "notificationUrl": receiver.url}
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "badRequest"
    assert "no signing secret" in error["message"]
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ([], "JSON object"),
        ({"notificationUrl": "http://127.0.0.1:9/h"}, "'resource'"),
        ({"resource": "/email/messages", "notificationUrl": "http://127.0.0.1:9/h"}, "'resource'"),
        ({"resource": "/calendars/primary/events", "notificationUrl": "http://x/h"}, "'resource'"),
        ({"resource": "/contacts"}, "'notificationUrl'"),
        ({"resource": "/contacts", "notificationUrl": "ftp://127.0.0.1/h"}, "'notificationUrl'"),
        ({"resource": "/contacts", "notificationUrl": "/relative"}, "'notificationUrl'"),
        ({"resource": "/contacts", "notificationUrl": "http://x/h", "filters": "no"}, "'filters'"),
        (
            {"resource": "/contacts", "notificationUrl": "http://x/h", "filters": ["x"]},
            "'filters[0]'",
        ),
    ],
)
def test_a_bad_subscription_request_is_400_before_any_handshake(
    client: httpx.Client, receiver: Receiver, body: Any, named: str
) -> None:
    response = client.post("/subscriptions", json=body)
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["code"] == "badRequest"
    assert named in error["message"]
    assert receiver.requests == []


def test_filters_are_kept_and_echoed(client: httpx.Client, receiver: Receiver) -> None:
    response = client.post(
        "/subscriptions",
        json={
            "resource": "/contacts",
            "notificationUrl": receiver.url,
            "filters": ["withoutDrafts"],
        },
    )
    assert response.status_code == 200
    assert response.json()["filters"] == ["withoutDrafts"]


def test_subscriptions_need_a_live_token(live_sandbox: str, app: SandboxApp) -> None:
    with httpx.Client(base_url=live_sandbox, trust_env=False) as anonymous:
        assert anonymous.get("/subscriptions").status_code == 401
        response = anonymous.post("/subscriptions", json={})
        assert response.status_code == 401
        assert _error(response)["code"] == "unauthorized"


def test_listing_pages_with_limit_and_offset(client: httpx.Client, receiver: Receiver) -> None:
    made = [_subscribe(client, f"{receiver.url}?n={n}") for n in range(3)]
    first = client.get("/subscriptions", params={"limit": 2}).json()
    assert first == {"records": made[:2], "offset": 0, "totalSize": 3, "done": False}
    rest = client.get("/subscriptions", params={"limit": 2, "offset": 2}).json()
    assert rest == {"records": made[2:], "offset": 2, "totalSize": 3, "done": True}
    for params in ({"limit": 0}, {"limit": "x"}, {"offset": -1}):
        assert client.get("/subscriptions", params=params).status_code == 400


def test_another_accounts_subscription_is_unknown(
    client: httpx.Client, other: httpx.Client, receiver: Receiver
) -> None:
    created = _subscribe(client, receiver.url)
    assert other.get("/subscriptions").json()["records"] == []
    for method in ("GET", "DELETE"):
        response = other.request(method, f"/subscriptions/{created['id']}")
        assert response.status_code == 404
        assert _error(response)["code"] == "notFound"
    assert client.get(f"/subscriptions/{created['id']}").status_code == 200
    for bad in ("999999", "abc", "-1"):
        assert client.delete(f"/subscriptions/{bad}").status_code == 404


# --- notifications -----------------------------------------------------------------------


def test_create_update_and_delete_are_notified_signed(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    subscription = _subscribe(client, receiver.url)
    account = client.get("/account").json()["id"]
    contact = _create(client)
    _settle(app)
    patched = client.patch(
        f"/contacts/{contact['id']}", json={"notes": "n"}, headers={"If-Match": contact["etag"]}
    )
    assert patched.status_code == 200
    _settle(app)
    assert client.delete(f"/contacts/{contact['id']}").status_code == 200
    _settle(app)
    notifications = receiver.notifications()
    assert [n.json() for n in notifications] == [
        {
            "subscription": subscription["id"], "resource": "/contacts", "accountId": account,
            "payloads": [{"id": contact["id"], "changeType": change}],
        }
        for change in ("created", "updated", "deleted")
    ]  # fmt: skip
    for notification in notifications:
        assert notification.path == "/aurinko/hook"
        assert notification.headers["content-type"] == "application/json"
        assert _signed_correctly(notification)
        assert not _signed_correctly(notification, SECRET + "x")
    counts = app.deliveries()[subscription["id"]]
    assert (counts.notifications, counts.attempts, counts.delivered, counts.failed) == (3, 3, 3, 0)


def test_changes_arrive_in_order(app: SandboxApp, client: httpx.Client, receiver: Receiver) -> None:
    _subscribe(client, receiver.url)
    contacts = [_create(client, f"c{n}") for n in range(8)]
    for contact in contacts[:4]:
        assert client.delete(f"/contacts/{contact['id']}").status_code == 200
    _settle(app)
    expected = [{"id": c["id"], "changeType": "created"} for c in contacts]
    expected += [{"id": c["id"], "changeType": "deleted"} for c in contacts[:4]]
    assert receiver.payloads() == expected
    assert all(_signed_correctly(n) for n in receiver.notifications())


def test_every_subscription_of_the_account_is_notified(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    first = _subscribe(client, receiver.url + "?n=1")
    second = _subscribe(client, receiver.url + "?n=2")
    _create(client)
    _settle(app)
    assert sorted(n.json()["subscription"] for n in receiver.notifications()) == sorted(
        [first["id"], second["id"]]
    )


def test_another_accounts_changes_do_not_reach_the_subscription(
    app: SandboxApp, client: httpx.Client, other: httpx.Client, receiver: Receiver
) -> None:
    _subscribe(client, receiver.url)
    _create(other)
    _settle(app)
    assert receiver.notifications() == []
    mine = _create(client)
    _settle(app)
    assert receiver.payloads() == [{"id": mine["id"], "changeType": "created"}]


def test_failed_writes_notify_nothing(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    _subscribe(client, receiver.url)
    contact = _create(client)
    _settle(app)
    stale = client.patch(
        f"/contacts/{contact['id']}", json={"notes": "n"}, headers={"If-Match": "stale"}
    )
    assert stale.status_code == 412
    assert client.delete("/contacts/unknown").status_code == 404
    _settle(app)
    assert len(receiver.notifications()) == 1


def test_the_api_answers_while_a_notification_is_slow(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    def slow(request: Received) -> tuple[int, bytes]:
        time.sleep(0.5)
        return 200, b""

    receiver.notify = slow
    _subscribe(client, receiver.url)
    started = time.monotonic()
    contacts = [_create(client, f"c{n}") for n in range(3)]
    assert time.monotonic() - started < 0.4
    _settle(app)
    # Changes made while one was in flight may share the next notification.
    assert receiver.payloads() == [{"id": c["id"], "changeType": "created"} for c in contacts]
    assert 1 <= len(receiver.notifications()) <= 3


def test_delete_stops_deliveries(app: SandboxApp, client: httpx.Client, receiver: Receiver) -> None:
    subscription = _subscribe(client, receiver.url)
    _create(client)
    _settle(app)
    response = client.delete(f"/subscriptions/{subscription['id']}")
    assert response.status_code == 200
    assert response.content == b""
    _create(client)
    _settle(app)
    assert len(receiver.notifications()) == 1
    assert client.get(f"/subscriptions/{subscription['id']}").status_code == 404
    assert client.delete(f"/subscriptions/{subscription['id']}").status_code == 404
    assert _all_subscriptions(client) == []
    again = _subscribe(client, receiver.url)
    assert again["id"] != subscription["id"]


# --- retries and deactivation ------------------------------------------------------------


def test_a_failed_notification_is_retried_with_the_same_body_and_signature(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    answers = iter([503, 500])
    receiver.notify = lambda request: (next(answers, 200), b"")
    subscription = _subscribe(client, receiver.url)
    _create(client)
    _settle(app)
    first, second, third = receiver.notifications()
    assert first.body == second.body == third.body
    assert first.headers["x-aurinko-signature"] == third.headers["x-aurinko-signature"]
    assert second.at - first.at >= 0.01
    assert third.at - second.at >= 0.02  # the wait doubles
    counts = app.deliveries()[subscription["id"]]
    assert (counts.notifications, counts.attempts, counts.delivered, counts.failed) == (1, 3, 1, 2)
    # Delivered again: the run of failures is over.
    [now] = _all_subscriptions(client)
    assert now == subscription


@pytest.mark.sandbox(signing_secret=SECRET, webhook_retry_delay=0.01, webhook_max_failures=3)
def test_consecutive_failures_deactivate_the_subscription(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    receiver.notify = lambda request: (500, b"")
    subscription = _subscribe(client, receiver.url)
    _create(client)
    _settle(app)
    assert len(receiver.notifications()) == 3
    [lapsed] = _all_subscriptions(client)
    assert lapsed["active"] is False
    assert lapsed["failSince"].endswith("Z")
    assert "HTTP 500" in lapsed["failDescription"]
    assert "deactivated" in lapsed["failDescription"]
    assert client.get("/subscriptions").json()["records"] == []
    assert client.get(f"/subscriptions/{subscription['id']}").json() == lapsed
    # No more deliveries, even once the receiver is well again.
    receiver.notify = lambda request: (200, b"")
    _create(client)
    _settle(app)
    assert len(receiver.notifications()) == 3
    assert app.deliveries()[subscription["id"]].attempts == 3
    # Deleting and creating it again is the way back.
    assert client.delete(f"/subscriptions/{subscription['id']}").status_code == 200
    renewed = _subscribe(client, receiver.url)
    last = _create(client)
    _settle(app)
    assert receiver.notifications()[-1].json()["subscription"] == renewed["id"]
    assert receiver.payloads()[-1] == {"id": last["id"], "changeType": "created"}


@pytest.mark.sandbox(signing_secret=SECRET, webhook_retry_delay=0.01, webhook_max_failures=2)
def test_a_receiver_that_went_away_deactivates_the_subscription(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    # The handshake succeeds, then nothing listens at that address any more.
    port = _closed_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        url = f"http://127.0.0.1:{port}/hook"
        token_holder: list[str] = []

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                head = conn.recv(65536).decode()
                token = head.split("validationToken=", 1)[1].split(" ", 1)[0]
                token_holder.append(token)
                conn.sendall(
                    f"HTTP/1.1 200 OK\r\nContent-Length: {len(token)}\r\n\r\n{token}".encode()
                )

        thread = threading.Thread(target=answer)
        thread.start()
        subscription = _subscribe(client, url)
        thread.join(5)
    _create(client)
    _settle(app)
    [lapsed] = _all_subscriptions(client)
    assert lapsed["id"] == subscription["id"]
    assert lapsed["active"] is False
    assert "connection refused" in lapsed["failDescription"]


@pytest.mark.sandbox(signing_secret=SECRET, webhook_timeout=0.3, webhook_retry_delay=0.01)
def test_a_slow_receiver_counts_as_a_failure(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    calls: list[int] = []

    def first_slow(request: Received) -> tuple[int, bytes]:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.8)
        return 200, b""

    receiver.notify = first_slow
    subscription = _subscribe(client, receiver.url)
    _create(client)
    _settle(app)
    counts = app.deliveries()[subscription["id"]]
    assert (counts.attempts, counts.failed, counts.delivered) == (2, 1, 1)


# --- faults ------------------------------------------------------------------------------


def test_drop_rate_sends_nothing(app: SandboxApp, client: httpx.Client, receiver: Receiver) -> None:
    subscription = _subscribe(client, receiver.url)
    app.set_webhook_faults(drop_rate=1.0)
    _create(client)
    _settle(app)
    assert receiver.notifications() == []
    counts = app.deliveries()[subscription["id"]]
    assert (counts.notifications, counts.dropped, counts.attempts) == (1, 1, 0)
    # Dropped is not failed: the subscription stays active.
    assert _all_subscriptions(client)[0]["active"] is True
    app.set_webhook_faults(drop_rate=0.0)
    _create(client)
    _settle(app)
    assert len(receiver.notifications()) == 1


def test_drop_rate_is_a_rate_and_seeded(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    _subscribe(client, receiver.url)

    def run() -> int:
        app.set_webhook_faults(WebhookFaults(drop_rate=0.5, seed=7))
        before = len(receiver.notifications())
        for n in range(20):
            _create(client, f"c{n}")
            _settle(app)  # one notification per change, so each draws once
        return len(receiver.notifications()) - before

    first = run()
    assert 0 < first < 20
    assert run() == first


def test_delay_holds_each_notification(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    _subscribe(client, receiver.url)
    app.set_webhook_faults(delay=0.4)
    started = time.monotonic()
    _create(client)
    assert time.monotonic() - started < 0.3
    _settle(app)
    [notification] = receiver.notifications()
    assert notification.at - started >= 0.4


def test_duplicate_rate_sends_twice(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    subscription = _subscribe(client, receiver.url)
    app.set_webhook_faults(duplicate_rate=1.0)
    _create(client)
    _settle(app)
    first, second = receiver.notifications()
    assert first.body == second.body
    assert first.headers["x-aurinko-signature"] == second.headers["x-aurinko-signature"]
    assert _signed_correctly(first)
    counts = app.deliveries()[subscription["id"]]
    assert (counts.notifications, counts.duplicated, counts.attempts, counts.delivered) == (
        1, 1, 2, 2,
    )  # fmt: skip


def test_bad_signature_rate_signs_wrongly(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    _subscribe(client, receiver.url)
    app.set_webhook_faults(bad_signature_rate=1.0)
    _create(client)
    _settle(app)
    [notification] = receiver.notifications()
    assert not _signed_correctly(notification)
    assert len(notification.headers["x-aurinko-signature"]) == 64
    app.set_webhook_faults(bad_signature_rate=0.0)
    _create(client)
    _settle(app)
    assert _signed_correctly(receiver.notifications()[-1])


@pytest.mark.sandbox(signing_secret=SECRET, webhook_retry_delay=0.01, webhook_max_failures=3)
def test_a_receiver_refusing_bad_signatures_gets_a_retry(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    receiver.notify = lambda request: (200 if _signed_correctly(request) else 401, b"")
    subscription = _subscribe(client, receiver.url)
    app.set_webhook_faults(WebhookFaults(bad_signature_rate=0.5, seed=3))
    for n in range(5):
        _create(client, f"c{n}")
        _settle(app)
    counts = app.deliveries()[subscription["id"]]
    assert counts.delivered == 5
    assert counts.failed > 0
    # Each notification was eventually delivered signed correctly, in order.
    accepted = [n for n in receiver.notifications() if _signed_correctly(n)]
    assert len(accepted) == 5


def test_the_admin_endpoint_sets_webhook_faults(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    with _admin(client) as admin:
        assert admin.get("/_sandbox/webhooks").json() == {
            "drop_rate": 0.0, "delay": 0.0, "duplicate_rate": 0.0, "bad_signature_rate": 0.0,
            "seed": None,
        }  # fmt: skip
        response = admin.put("/_sandbox/webhooks", json={"drop_rate": 1, "seed": 5})
        assert response.status_code == 200
        assert response.json()["drop_rate"] == 1.0
        assert app.webhook_faults == WebhookFaults(drop_rate=1.0, seed=5)
        for bad in ({"drop_rate": 2}, {"nope": 1}, {"delay": "x"}, [1]):
            response = admin.put("/_sandbox/webhooks", json=bad)
            assert response.status_code == 400, bad
            assert _error(response)["code"] == "badRequest"
        # Keys left out take their defaults: everything off again.
        assert admin.put("/_sandbox/webhooks", json={}).status_code == 200
    assert app.webhook_faults == WebhookFaults()


def test_webhook_faults_reject_bad_values() -> None:
    for bad in (
        {"drop_rate": -0.1},
        {"duplicate_rate": 1.5},
        {"bad_signature_rate": 2},
        {"delay": -1},
    ):
        with pytest.raises(ValueError):
            WebhookFaults(**bad)


# --- test hooks --------------------------------------------------------------------------


def test_lapse_subscription_deactivates_it(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    subscription = _subscribe(client, receiver.url)
    lapsed = app.lapse_subscription(subscription["id"])
    assert lapsed["active"] is False
    assert lapsed["failSince"].endswith("Z")
    assert lapsed["failDescription"]
    assert _all_subscriptions(client) == [lapsed]
    _create(client)
    _settle(app)
    assert receiver.notifications() == []
    with pytest.raises(ValueError):
        app.lapse_subscription(123456)


def test_the_admin_endpoints_list_and_lapse_subscriptions(
    app: SandboxApp, client: httpx.Client, other: httpx.Client, receiver: Receiver
) -> None:
    subscription = _subscribe(client, receiver.url)
    _create(client)
    _settle(app)
    with _admin(client) as admin, _admin(other) as other_admin:
        [listed] = admin.get("/_sandbox/subscriptions").json()["subscriptions"]
        assert listed["id"] == subscription["id"]
        assert listed["deliveries"]["delivered"] == 1
        assert other_admin.get("/_sandbox/subscriptions").json() == {"subscriptions": []}
        path = f"/_sandbox/subscriptions/{subscription['id']}/lapse"
        assert other_admin.post(path).status_code == 404
        response = admin.post(path)
        assert response.status_code == 200
        assert response.json()["active"] is False
    assert _all_subscriptions(client)[0]["active"] is False


def test_subscriptions_and_deliveries_survive_a_restart(
    sandbox_config: SandboxConfig, receiver: Receiver
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with (
        serve_in_thread(sandbox_config) as first,
        httpx.Client(base_url=first.url, headers=headers, trust_env=False) as client,
    ):
        subscription = _subscribe(client, receiver.url)
    with (
        serve_in_thread(sandbox_config) as second,
        httpx.Client(base_url=second.url, headers=headers, trust_env=False) as client,
    ):
        assert client.get("/subscriptions").json()["records"] == [subscription]
        contact = _create(client)
        _settle(second.app)
        [notification] = receiver.notifications()
        assert notification.json()["subscription"] == subscription["id"]
        assert notification.json()["payloads"] == [{"id": contact["id"], "changeType": "created"}]
        assert _signed_correctly(notification)
        second.app.lapse_subscription(subscription["id"])
    with serve_in_thread(sandbox_config) as third:
        assert third.app.subscriptions(TOKEN)[0]["active"] is False


@pytest.mark.sandbox(signing_secret=SECRET, webhook_retry_delay=0.3, webhook_max_failures=3)
def test_a_run_of_failures_survives_a_restart(
    sandbox_config: SandboxConfig, receiver: Receiver
) -> None:
    receiver.notify = lambda request: (500, b"")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with (
        serve_in_thread(sandbox_config) as first,
        httpx.Client(base_url=first.url, headers=headers, trust_env=False) as client,
    ):
        subscription = _subscribe(client, receiver.url)
        _create(client)
        deadline = time.monotonic() + 5
        while first.app.deliveries().get(subscription["id"], None) is None or (
            first.app.deliveries()[subscription["id"]].failed < 2
        ):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        # Stopped while waiting to retry: the queued notification is lost, the run is kept.
    with serve_in_thread(sandbox_config) as second:
        [failing] = second.app.subscriptions(TOKEN)
        assert failing["active"] is True
        assert "HTTP 500" in failing["failDescription"]
        with httpx.Client(base_url=second.url, headers=headers, trust_env=False) as client:
            _create(client)
            _settle(second.app)
            [lapsed] = _all_subscriptions(client)
    # The third failure in a row, the first after the restart, deactivated it.
    assert second.app.deliveries()[subscription["id"]].attempts == 1
    assert lapsed["active"] is False
    assert lapsed["failSince"] == failing["failSince"]


def test_app_without_subscriptions_is_unchanged(app: SandboxApp) -> None:
    assert app.deliveries() == {}
    assert app.wait_for_deliveries(0.1)
    assert app.subscriptions(TOKEN) == []


# --- configuration and command line ------------------------------------------------------


def test_config_checks_webhook_settings(tmp_path: Path) -> None:
    base: dict[str, Any] = {"db_path": ":memory:", "tokens": ["t"]}
    for bad in (
        {"signing_secret": ""},
        {"webhook_timeout": 0},
        {"webhook_max_failures": 0},
        {"webhook_retry_delay": -1},
    ):
        with pytest.raises(ValueError):
            SandboxConfig(**base, **bad)


def test_cli_options_parse() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = build_config(parser.parse_args(["--db", "x.db", "--token", "t"]))
    assert defaults.signing_secret is None
    assert (defaults.webhook_timeout, defaults.webhook_max_failures) == (30.0, 5)  # Aurinko: 30 s
    assert defaults.webhook_retry_delay == 1.0
    assert defaults.webhook_faults == WebhookFaults()
    config = build_config(
        parser.parse_args(
            [
                "--db", "x.db", "--token", "t", "--signing-secret", "s3", "--webhook-timeout",
                "2.5", "--webhook-max-failures", "3", "--webhook-retry-delay", "0.1",
                "--webhook-drop-rate", "0.1", "--webhook-delay", "0.2",
                "--webhook-duplicate-rate", "0.3", "--webhook-bad-signature-rate", "0.4",
                "--webhook-fault-seed", "9",
            ]
        )
    )  # fmt: skip
    assert config.signing_secret == "s3"
    assert (config.webhook_timeout, config.webhook_max_failures) == (2.5, 3)
    assert config.webhook_retry_delay == 0.1
    assert config.webhook_faults == WebhookFaults(
        drop_rate=0.1, delay=0.2, duplicate_rate=0.3, bad_signature_rate=0.4, seed=9
    )
    with pytest.raises(ValueError):
        build_config(parser.parse_args(["--db", "x", "--token", "t", "--webhook-drop-rate", "2"]))


def test_a_provider_side_failure_deactivates_and_sends_a_lifecycle_error(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    """OAS, Webhooks: notifications carry ``error`` "if any" and ``lifecycleEvent`` "error
    or active, when subscription state changes"."""
    subscription = _subscribe(client, receiver.url)
    with _admin(client) as admin:
        path = f"/_sandbox/subscriptions/{subscription['id']}/error"
        answer = admin.post(path, json={"error": "Graph subscription expired"})
        assert answer.status_code == 200 and answer.json()["active"] is False
        assert answer.json()["failDescription"] == "Graph subscription expired"
        assert admin.post(path, json={"error": 3}).status_code == 400
    wait_for(receiver.notifications)
    (event,) = receiver.notifications()
    assert _signed_correctly(event)
    assert event.json() == {
        "subscription": subscription["id"],
        "resource": "/contacts",
        "accountId": event.json()["accountId"],
        "lifecycleEvent": "error",
        "payloads": [],
        "error": "Graph subscription expired",
    }
    with pytest.raises(ValueError):
        app.fail_subscription(123456, "x")


def test_a_recovered_subscription_is_validated_again_and_sends_a_lifecycle_active(
    app: SandboxApp, client: httpx.Client, receiver: Receiver
) -> None:
    """OAS, Webhooks: ``lifecycleEvent`` "error or active, when subscription state
    changes". Our guess at the rest: a subscription comes back only once its URL passes
    the validation handshake again; then it is active, its failure cleared, and its URL
    gets one ``active`` event (no ``error``)."""
    subscription = _subscribe(client, receiver.url)
    app.fail_subscription(subscription["id"], "Graph subscription expired")
    wait_for(lambda: len(receiver.notifications()) == 1)
    with _admin(client) as admin:
        path = f"/_sandbox/subscriptions/{subscription['id']}/active"
        receiver.handshake = lambda token: (404, b"")
        refused = admin.post(path)
        assert refused.status_code == 400
        assert refused.json()["code"] == "subscription.validationFailed"
        assert app.subscriptions(TOKEN)[0]["active"] is False
        receiver.handshake = lambda token: (200, token.encode())
        answer = admin.post(path)
        assert answer.status_code == 200 and answer.json()["active"] is True
        assert "failSince" not in answer.json() and "failDescription" not in answer.json()
        assert admin.post(path).json()["active"] is True  # active already: no second event
    wait_for(lambda: len(receiver.notifications()) == 2)
    event = receiver.notifications()[1]
    assert _signed_correctly(event)
    assert event.json() == {
        "subscription": subscription["id"],
        "resource": "/contacts",
        "accountId": event.json()["accountId"],
        "lifecycleEvent": "active",
        "payloads": [],
    }
    # Active again: changes are notified to it as before.
    client.post("/contacts", json={"nickName": "after"}).raise_for_status()
    wait_for(lambda: len(receiver.payloads()) == 1)
    with pytest.raises(ValueError):
        app.recover_subscription(123456)
