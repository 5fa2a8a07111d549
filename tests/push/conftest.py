"""WebDAV-Push end to end: the bridge's CardDAV server (users alice and bob over a loopback
sandbox) with push on, and a push service of our own on 127.0.0.1 that takes messages as a
real one does and hands them to the subscribed client, which decrypts them with its own
keys, checks the server's VAPID signature and reads the push message."""

from __future__ import annotations

import json
import os
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from bridge.aurinko import AurinkoClient
from bridge.config import AccountConfig, Config, PushConfig
from bridge.htpasswd import set_password
from bridge.push import PushOptions
from bridge.push.protocol import b64decode, b64encode
from bridge.runtime import open_engine
from bridge.sandbox import SandboxApp
from bridge.store import Book
from bridge.store.push import Subscription
from bridge.sync import SyncEngine
from tests.conftest import TOKEN
from tests.plugin.conftest import FAST, write_token
from tests.running_server import RunningServer

PUSH_NS = "https://bitfire.at/webdav-push"
NS = {"D": "DAV:", "P": PUSH_NS, "CR": "urn:ietf:params:xml:ns:carddav"}
# Fast enough for tests, the same logic: a change after a quiet spell goes out at once, a
# burst makes one message per interval.
OPTIONS = PushOptions(interval=1.0, settle=0.05, poll=0.1, purge_every=0.5)


@dataclass
class Message:
    """One push message as the client sees it: decrypted, its sender's signature read."""

    path: str
    headers: dict[str, str]
    xml: ET.Element
    claims: dict[str, object]
    vapid_key: str
    arrived: float  # time.monotonic()

    @property
    def topic(self) -> str | None:
        return self.xml.findtext("P:topic", namespaces=NS)

    @property
    def sync_token(self) -> str | None:
        return self.xml.findtext("P:content-update/D:sync-token", namespaces=NS)


@dataclass
class Clock:
    """A clock of the test's own, for what measures time with one (pacing, rates)."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Subscriber:
    """A client's Web Push subscription at the push service: its endpoint and its keys."""

    service: PushService
    name: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))
    messages: list[Message] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    answer: int = 201  # what the push service says to the server's POSTs

    @property
    def endpoint(self) -> str:
        return f"{self.service.url}/push/{self.name}"

    @property
    def public_key(self) -> str:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64encode(point)

    def subscription(self, endpoint: str | None = None, book_id: int = 1) -> Subscription:
        """This subscriber's keys as the store holds a registration of them: at
        ``endpoint`` (its own by default), for ``book_id``."""
        return Subscription(
            id=1,
            book_id=book_id,
            owner="alice",
            endpoint=endpoint or self.endpoint,
            public_key=self.public_key,
            auth_secret=b64encode(self.auth),
            content_encoding="aes128gcm",
            expires=None,
            created=0.0,
            last_sent=None,
        )

    def register_body(self, expires: str | None = None, trigger: str | None = None) -> str:
        """A ``push-register`` as DAVx5 sends it (no trigger, no content-encoding),
        with ``trigger`` and ``expires`` when given."""
        extra = f"<P:trigger>{trigger}</P:trigger>" if trigger is not None else ""
        extra += f"<P:expires>{expires}</P:expires>" if expires else ""
        return (
            f'<?xml version="1.0" encoding="utf-8"?><P:push-register xmlns:P="{PUSH_NS}"'
            ' xmlns:D="DAV:"><P:subscription><P:web-push-subscription>'
            f"<P:push-resource>{self.endpoint}</P:push-resource>"
            f'<P:subscription-public-key type="p256dh">{self.public_key}'
            "</P:subscription-public-key>"
            f"<P:auth-secret>{b64encode(self.auth)}</P:auth-secret>"
            f"</P:web-push-subscription></P:subscription>{extra}</P:push-register>"
        )

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> None:
        try:
            self.messages.append(self._read(path, headers, body))
        except Exception as exc:  # the assertion is made by the test, on .errors
            self.errors.append(repr(exc))

    def _read(self, path: str, headers: dict[str, str], body: bytes) -> Message:
        assert headers["content-encoding"] == "aes128gcm"
        scheme, _, params = headers["authorization"].partition(" ")
        assert scheme == "vapid", headers["authorization"]
        parts = dict(p.split("=", 1) for p in params.split(","))
        assert Vapid02.verify(headers["authorization"]), "VAPID signature does not verify"
        payload = parts["t"].split(".")[1]
        claims = json.loads(b64decode(payload))
        assert claims["aud"] == f"http://{headers['host']}"  # the origin it reached us at
        assert claims["exp"] > time.time()
        assert str(claims["sub"]).startswith(("mailto:", "https://"))
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth)
        return Message(path, headers, ET.fromstring(plain), claims, parts["k"], time.monotonic())

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self.errors, self.errors
        assert len(self.messages) >= count, f"{len(self.messages)} of {count} message(s)"
        return self.messages


class PushService:
    """A Web Push service on 127.0.0.1: POST /push/<name> delivers to that subscriber."""

    def __init__(self) -> None:
        self.subscribers: dict[str, Subscriber] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = self.path.rsplit("/", 1)[-1]
                subscriber = service.subscribers.get(name)
                status = subscriber.answer if subscriber is not None else 404
                if subscriber is not None and status < 300:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    subscriber.receive(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def subscriber(self, name: str) -> Subscriber:
        self.subscribers[name] = Subscriber(self, name)
        return self.subscribers[name]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class PushServer:
    url: str
    running: RunningServer
    engine: SyncEngine
    book: Book
    sandbox: SandboxApp
    remote: AurinkoClient
    alice: httpx.Client
    bob: httpx.Client
    anonymous: httpx.Client
    service: PushService

    @property
    def book_url(self) -> str:
        return f"{self.url}alice/work/"

    def register(
        self,
        subscriber: Subscriber,
        url: str | None = None,
        client: httpx.Client | None = None,
        **body: str | None,
    ) -> httpx.Response:
        return (client or self.alice).post(
            url or self.book_url,
            content=subscriber.register_body(**body),
            headers={"Content-Type": "application/xml; charset=utf-8"},
        )


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.close()


@pytest.fixture
def push_settings() -> PushConfig:
    """``[push]`` of the server under test: our push services are on 127.0.0.1, over plain
    http, so the operator's way of allowing them is taken (a test may give its own)."""
    return PushConfig(
        contact="mailto:admin@example.org", allow_http=True, allow_hosts=("127.0.0.1",)
    )


@pytest.fixture
def push_server(
    sandbox_app: SandboxApp,
    live_sandbox: str,
    tmp_path: Path,
    push_service: PushService,
    push_settings: PushConfig,
) -> Iterator[PushServer]:
    """The CardDAV server over ``live_sandbox`` with WebDAV-Push on (``push_settings``):
    alice's account book ``work``, pulled once, users alice and bob. Reads never pull:
    tests pull when they mean to."""
    htpasswd = tmp_path / "users.htpasswd"
    set_password(htpasswd, "alice", "alice-pw", rounds=4)
    set_password(htpasswd, "bob", "bob-pw", rounds=4)
    account = AccountConfig(
        name="work",
        user="alice",
        base_url=live_sandbox,
        token_file=write_token(tmp_path),
        display_name="Work contacts",
    )
    config = Config(
        data_dir=tmp_path / "bridge",
        port=0,
        htpasswd=htpasswd,
        freshness=3600,
        interval=3600,
        accounts=[account],
        push=push_settings,
    )
    engine, books = open_engine(config)
    book = books[("alice", "work")]
    engine.clients[book.id] = AurinkoClient(TOKEN, live_sandbox, retry=FAST, sleep=lambda s: None)
    engine.pull(book)
    remote = AurinkoClient(TOKEN, live_sandbox, retry=FAST)
    with RunningServer(config, engine, f"test:{tmp_path}", push_options=OPTIONS) as running:
        clients = [
            httpx.Client(base_url=running.url, auth=auth, timeout=30)
            for auth in (("alice", "alice-pw"), ("bob", "bob-pw"), None)
        ]
        alice, bob, anonymous = clients
        yield PushServer(
            running.url,
            running,
            engine,
            book,
            sandbox_app,
            remote,
            alice,
            bob,
            anonymous,
            push_service,
        )
        for client in clients:
            client.close()
    remote.close()
    engine.close()
