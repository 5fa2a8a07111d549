"""The webhook path end to end in one process: the sandbox (Aurinko, with a signing
secret) makes and validates subscriptions and posts signed notifications to a real HTTP
server carrying ``WebhookEndpoint``; the engine pulls; ``WebhookManager`` keeps the book
subscribed. (tests/cli/test_webhooks.py does the same with ``serve`` as a process.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.aurinko import AurinkoClient, BadRequestError, NotFoundError
from bridge.config import WebhooksConfig
from bridge.httpserver import RequestHandler, ThreadingServer
from bridge.sandbox import SandboxApp
from bridge.store.webhooks import WebhookStore
from bridge.webhooks import RESOURCE, WebhookEndpoint, WebhookManager, url_prefix
from tests.conftest import TOKEN
from tests.wait import eventually
from tests.webhooks.conftest import SECRET, Hooked, webhooks_config

# The endpoint, the spacer and the pulls they ask for are the subject, not the store: the
# subscriptions' SQL runs on both backends in tests/webhooks/test_store.py, and webhooks on
# PostgreSQL end to end in tests/cli/test_webhooks.py::test_two_instances_on_postgresql.
pytestmark = [
    pytest.mark.sandbox(signing_secret=SECRET, webhook_retry_delay=0.05),
    pytest.mark.store_backends("sqlite"),
]


@dataclass
class Live:
    hooked: Hooked
    config: WebhooksConfig
    endpoint: WebhookEndpoint
    manager: WebhookManager
    sandbox: SandboxApp
    other_device: AurinkoClient
    requests: list[str]  # the paths the server was asked for


def _serve(app: Callable[..., Iterable[bytes]]) -> tuple[ThreadingServer, int]:
    server = ThreadingServer(("127.0.0.1", 0), RequestHandler)
    server.set_app(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_port


@pytest.fixture
def live(
    hooked: Hooked, tmp_path: Path, sandbox_app: SandboxApp, live_sandbox: str
) -> Iterator[Live]:
    requests: list[str] = []
    holder: dict[str, WebhookEndpoint] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        requests.append(environ["PATH_INFO"])
        endpoint = holder["endpoint"]
        if endpoint.handles(environ["PATH_INFO"]):
            return endpoint(environ, start_response)
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]

    server, port = _serve(app)
    config = webhooks_config(tmp_path, f"http://127.0.0.1:{port}", check_interval=0.3)
    endpoint = WebhookEndpoint(hooked.engine, config, SECRET)
    holder["endpoint"] = endpoint
    manager = WebhookManager(hooked.engine, config)
    other = AurinkoClient(TOKEN, live_sandbox)
    try:
        yield Live(hooked, config, endpoint, manager, sandbox_app, other, requests)
    finally:
        manager.stop()
        other.close()
        server.shutdown()
        server.server_close()
        endpoint.close()


def test_the_client_speaks_the_subscriptions_api(live: Live, live_sandbox: str) -> None:
    row = WebhookStore(live.hooked.engine.db).record_url(
        live.hooked.book.id, url_prefix(live.config) + "ab" * 16
    )
    client = live.other_device
    assert client.subscriptions() == []
    made = client.subscribe(RESOURCE, row.notification_url)
    assert (made.resource, made.notification_url, made.active) == (
        "/contacts",
        row.notification_url,
        True,
    )
    assert [s.id for s in client.subscriptions()] == [made.id]
    live.sandbox.lapse_subscription(int(made.id))
    (lapsed,) = client.subscriptions()  # inactive ones are listed too
    assert not lapsed.active and lapsed.fail_description
    client.unsubscribe(made.id)
    assert client.subscriptions() == []
    with pytest.raises(NotFoundError):
        client.unsubscribe(made.id)
    # Aurinko's check of a URL nobody answers for fails the subscription.
    with pytest.raises(BadRequestError):
        client.subscribe(RESOURCE, url_prefix(live.config) + "cd" * 16)


def test_a_change_at_aurinko_is_pulled_within_moments(live: Live) -> None:
    engine, book = live.hooked.engine, live.hooked.book
    subscription = live.manager.check(book.id)
    assert subscription is not None and subscription.active
    path = "/" + subscription.notification_url.split("/", 3)[3]
    assert live.requests == [path]  # Aurinko's check of the URL
    started = time.monotonic()
    live.other_device.create({"name": {"givenName": "Grace", "familyName": "Hopper"}})
    eventually(lambda: engine.store.count(book.id) == 1, timeout=5)
    assert time.monotonic() - started < 3
    assert len(live.hooked.pulls) == 1


def test_a_burst_at_aurinko_costs_two_pulls_at_most(live: Live) -> None:
    engine, book = live.hooked.engine, live.hooked.book
    assert live.manager.check(book.id) is not None
    threads = [
        threading.Thread(
            target=lambda n=n: live.other_device.create({"name": {"givenName": f"P{n}"}})
        )
        for n in range(50)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert live.sandbox.wait_for_deliveries(10)
    eventually(lambda: engine.store.count(book.id) == 50)
    time.sleep(1.5)
    assert 1 <= len(live.hooked.pulls) <= 2


def test_a_lapsed_subscription_is_made_again_at_the_next_check(live: Live) -> None:
    engine, book = live.hooked.engine, live.hooked.book
    live.manager.start()
    eventually(lambda: len(live.sandbox.subscriptions(TOKEN)) == 1)
    (first,) = live.sandbox.subscriptions(TOKEN)
    live.sandbox.lapse_subscription(first["id"])
    eventually(lambda: [s["active"] for s in live.sandbox.subscriptions(TOKEN)] == [True])
    (second,) = live.sandbox.subscriptions(TOKEN)
    assert second["id"] != first["id"]
    assert second["notificationUrl"] == first["notificationUrl"]
    row = WebhookStore(engine.db).get(book.id)
    assert row is not None and row.subscription_id == str(second["id"])
    live.other_device.create({"name": {"givenName": "After", "familyName": "Renewal"}})
    eventually(lambda: engine.store.count(book.id) == 1, timeout=5)


@pytest.mark.sandbox(signing_secret=SECRET, webhook_retry_delay=0.05, webhook_max_failures=50)
def test_badly_signed_notifications_pull_nothing(live: Live) -> None:
    engine, book = live.hooked.engine, live.hooked.book
    assert live.manager.check(book.id) is not None
    live.sandbox.set_webhook_faults(bad_signature_rate=1.0)
    live.other_device.create({"name": {"givenName": "Mallory"}})
    time.sleep(1.0)  # attempts, each refused
    assert live.hooked.pulls == [] and engine.store.count(book.id) == 0
    live.sandbox.set_webhook_faults(bad_signature_rate=0.0)  # its retry is signed right
    eventually(lambda: engine.store.count(book.id) == 1, timeout=5)
