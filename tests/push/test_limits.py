"""What one user can make the server do with WebDAV-Push (issue 21, point 2): a bounded
number of registrations, one per push resource however it is spelled, and a bounded
number of messages to one destination per minute, the rest deferred and folded into the
next message that may go (only the latest sync token matters)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import httpx
import pytest

from bridge.config import PushConfig
from bridge.push.dispatch import Dispatcher, Message
from bridge.push.webpush import Outcome
from bridge.store.push import PushStore, Subscription
from tests.plugin.conftest import card, mkcol_book
from tests.wait import eventually

from .conftest import NS, Clock, PushServer

CAP, PER_MINUTE = 8, 3
INTERNAL = "https://push.internal.example/push"  # allowed, never resolved nor sent to here


@pytest.fixture
def push_settings() -> PushConfig:
    return PushConfig(
        contact="mailto:admin@example.org",
        allow_http=True,
        allow_hosts=("127.0.0.1", "push.internal.example"),
        max_subscriptions_per_user=CAP,
        max_messages_per_minute=PER_MINUTE,
    )


def register_at(
    server: PushServer,
    resource: str,
    book: str = "/alice/work/",
    client: httpx.Client | None = None,
) -> httpx.Response:
    """A registration of ``resource`` (keys of a subscriber of ours) on ``book``."""
    subscriber = server.service.subscriber("keys")
    body = subscriber.register_body().replace(subscriber.endpoint, resource)
    return (client or server.alice).post(
        book, content=body, headers={"Content-Type": "application/xml"}
    )


def test_a_user_holds_a_bounded_number_of_registrations(push_server: PushServer) -> None:
    locations = []
    for i in range(CAP):
        response = register_at(push_server, f"{INTERNAL}/{i}")
        assert response.status_code == 201, response.text
        locations.append(response.headers["Location"])

    over = register_at(push_server, f"{INTERNAL}/one-too-many")
    assert over.status_code == 403, over.text
    error = ET.fromstring(over.content)
    assert error.find("P:push-not-available", NS) is not None
    assert f"at most {CAP}" in (error.findtext("{urn:x-aurinko-bridge}reason") or "")
    store = PushStore(push_server.engine.db)
    assert len(store.live(push_server.book.id, time.time())) == CAP

    # A renewal is no new registration: it is taken at the cap.
    assert register_at(push_server, f"{INTERNAL}/0").status_code == 204
    # Another user has a cap of his own.
    mkcol_book(push_server.bob, "/bob/local/")
    bob = register_at(push_server, f"{INTERNAL}/bob", "/bob/local/", push_server.bob)
    assert bob.status_code == 201, bob.text
    # Making room lets a new one in.
    assert push_server.alice.delete(locations[0]).status_code == 204
    again = register_at(push_server, f"{INTERNAL}/one-too-many")
    assert again.status_code == 201, again.text


def test_one_registration_per_push_resource_however_it_is_spelled(
    push_server: PushServer,
) -> None:
    first = register_at(push_server, f"{INTERNAL}/phone")
    assert first.status_code == 201, first.text
    for spelling in (
        "https://PUSH.Internal.Example/push/phone",
        "HTTPS://push.internal.example:443/push/phone",
        f"{INTERNAL}/phone",
    ):
        again = register_at(push_server, spelling)
        assert again.status_code == 204, (spelling, again.text)  # a renewal
        assert again.headers["Location"] == first.headers["Location"]
    live = PushStore(push_server.engine.db).live(push_server.book.id, time.time())
    assert [s.endpoint for s in live] == [f"{INTERNAL}/phone"]


def test_one_write_makes_no_more_messages_to_a_destination_than_its_rate(
    push_server: PushServer,
) -> None:
    """The issue's reflector: many registrations aimed at one push service. A write
    makes at most ``max_messages_per_minute`` POSTs to it; the rest wait their minute,
    and a later write folds into them rather than queueing more."""
    subscribers = [push_server.service.subscriber(f"s{i}") for i in range(CAP)]
    for subscriber in subscribers:
        response = push_server.register(subscriber)
        assert response.status_code == 201, response.text
    response = push_server.alice.put(f"{push_server.book_url}one.vcf", content=card("one", "One"))
    assert response.status_code == 201, response.text

    eventually(
        lambda: sum(len(s.messages) for s in subscribers) >= PER_MINUTE,
        timeout=10,
        what="the first messages",
    )
    time.sleep(2.0)  # longer than every message would take if nothing held them back
    assert sum(len(s.messages) for s in subscribers) == PER_MINUTE
    dispatcher = push_server.running.push.notifier.dispatcher  # type: ignore[union-attr]
    assert dispatcher.pending() == CAP - PER_MINUTE  # deferred, not dropped

    response = push_server.alice.put(f"{push_server.book_url}two.vcf", content=card("two", "Two"))
    assert response.status_code == 201, response.text
    time.sleep(2.0)
    assert sum(len(s.messages) for s in subscribers) == PER_MINUTE
    assert dispatcher.pending() == CAP  # one message per subscription, the newest


# -- the rate and the folding, on a clock of the test's own ----------------------------


@dataclass
class Sender:
    """Stands for the push services: notes each message (clock, subscription, payload)."""

    clock: Clock
    log: list[tuple[float, int, bytes]] = field(default_factory=list)

    def __call__(self, message: Message) -> Outcome:
        self.log.append((self.clock.now, message.subscription.id, message.payload))
        return Outcome.SENT


def subscription(
    number: int, owner: str = "alice", origin: str = "https://push.example"
) -> Subscription:
    return Subscription(
        id=number,
        book_id=1,
        owner=owner,
        endpoint=f"{origin}/push/{number}",
        public_key="key",
        auth_secret="auth",
        content_encoding="aes128gcm",
        expires=None,
        created=0.0,
        last_sent=None,
    )


def test_messages_beyond_the_rate_wait_and_fold_into_the_newest() -> None:
    clock = Clock()
    sender = Sender(clock)
    dispatcher = Dispatcher(sender, lambda i: None, lambda i: None, per_minute=5, clock=clock)
    alices = [subscription(i) for i in range(12)]  # one destination: alice at push.example
    bobs = subscription(100, owner="bob")  # bob at the same push service: his own bound

    dispatcher.put([Message(s, b"token-1", "t") for s in [*alices, bobs]])
    assert dispatcher.drain() == pytest.approx(60.0)  # the next may go in a minute
    assert len(sender.log) == 6  # five of alice's, bob's one
    clock.now = 30.0
    dispatcher.put([Message(s, b"token-2", "t") for s in alices])  # a second change
    assert dispatcher.drain() == pytest.approx(30.0)
    assert len(sender.log) == 6
    assert dispatcher.pending() == 12  # one per subscription: token-1 folded into token-2
    for minute in (60.0, 120.0, 180.0):
        clock.now = minute
        dispatcher.drain()
    assert dispatcher.drain() is None  # nothing left

    alice_log = [entry for entry in sender.log if entry[1] != 100]
    times = [t for t, _, _ in alice_log]
    assert all(sum(1 for u in times if t <= u < t + 60) <= 5 for t in times)  # the rate
    last = {number: payload for _, number, payload in alice_log}
    assert last == {s.id: b"token-2" for s in alices}  # each heard of the latest change
    assert len(alice_log) == 5 + 12  # the first five twice, the others once
