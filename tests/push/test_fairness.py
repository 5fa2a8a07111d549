"""A dead or slow push service delays nobody else (issue 21, point 3): one user's dead
services hold at most a few of the senders and each for a bounded time, failing
destinations back off and are dropped in the end, and another user's message goes out
at once. The assertions are on order and counts; the one figure is printed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from bridge.push.destination import Destinations
from bridge.push.dispatch import Dispatcher, Message, SendLimits
from bridge.push.protocol import push_message
from bridge.push.transport import guarded_client
from bridge.push.vapid import Vapid, new_private_key
from bridge.push.webpush import Delivery, Outcome, send
from tests.plugin.conftest import card, mkcol_book

from .conftest import Clock, PushServer, PushService
from .test_limits import subscription

HANG = 30.0  # a hang detector: far longer than anything here takes when it works


class DeadServices:
    """Push services on 127.0.0.1 that take a connection and never answer. Notes when
    each connection came (``accepted``) and when the sender gave up on it (``closed``)."""

    def __init__(self, count: int) -> None:
        self.listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
        self.accepted: list[float] = []
        self.closed: list[float] = []
        self._connections: list[socket.socket] = []
        self._stop = threading.Event()
        for listener in self.listeners:
            listener.settimeout(0.1)
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{s.getsockname()[1]}" for s in self.listeners]

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(time.monotonic())
            self._connections.append(connection)
            threading.Thread(target=self._hold, args=(connection,), daemon=True).start()

    def _hold(self, connection: socket.socket) -> None:
        """Read what comes, answer nothing; note when the other side hangs up."""
        connection.settimeout(0.1)
        while not self._stop.is_set():
            try:
                if not connection.recv(65536):
                    self.closed.append(time.monotonic())
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        for item in [*self._connections, *self.listeners]:
            try:
                item.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            item.close()


@pytest.fixture
def dead() -> Iterator[DeadServices]:
    services = DeadServices(15)
    yield services
    services.close()  # before the server stops: its senders are let go at once


def test_one_users_dead_push_services_do_not_delay_anothers_message(
    push_server: PushServer, dead: DeadServices
) -> None:
    """The issue's case: alice has 5 books with 3 never-answering push services each,
    bob one live phone. Bob's message goes out while alice's are all still hanging."""
    for number in range(5):
        mkcol_book(push_server.alice, f"/alice/book{number}/")
        for url in dead.urls[3 * number : 3 * number + 3]:
            subscriber = push_server.service.subscriber("keys")
            body = subscriber.register_body().replace(subscriber.endpoint, f"{url}/push/x")
            response = push_server.alice.post(
                f"/alice/book{number}/",
                content=body,
                headers={"Content-Type": "application/xml"},
            )
            assert response.status_code == 201, response.text
    mkcol_book(push_server.bob, "/bob/local/")
    phone = push_server.service.subscriber("bob-phone")
    assert push_server.register(phone, "/bob/local/", push_server.bob).status_code == 201

    for number in range(5):
        response = push_server.alice.put(f"/alice/book{number}/c.vcf", content=card("c", "C"))
        assert response.status_code == 201, response.text
    deadline = time.monotonic() + HANG
    while not dead.accepted:  # alice's messages are on their way, hanging
        assert time.monotonic() < deadline, "alice's messages never left"
        time.sleep(0.02)

    written = time.monotonic()
    response = push_server.bob.put("/bob/local/b.vcf", content=card("b", "B"))
    assert response.status_code == 201, response.text
    (message,) = phone.wait(1, timeout=HANG)
    given_up = [t for t in dead.closed if t <= message.arrived]
    assert given_up == [], "bob's message waited for alice's dead services"
    print(
        f"\nbob's message {message.arrived - written:.3f} s after his write, while"
        f" {len(dead.accepted)} of alice's messages hung and none had timed out"
    )


def test_a_users_dead_destinations_hold_at_most_their_share_of_the_senders() -> None:
    """Fifteen of alice's sends that never end and one of bob's, on four senders: alice's
    hold two of them, bob's message goes at once."""
    release = threading.Event()
    lock = threading.Lock()
    hanging: list[int] = []
    most = 0
    bob_sent = threading.Event()

    def sender(message: Message) -> Outcome:
        nonlocal most
        if message.subscription.owner == "bob":
            bob_sent.set()
            return Outcome.SENT
        with lock:
            hanging.append(message.subscription.id)
            most = max(most, len(hanging))
        release.wait(HANG)
        with lock:
            hanging.remove(message.subscription.id)
        return Outcome.FAILED

    limits = SendLimits(workers=4, user_sends=2)
    dispatcher = Dispatcher(sender, lambda i: None, lambda i: None, limits=limits)
    dispatcher.start()
    try:
        alices = [subscription(i, origin=f"https://dead{i}.example") for i in range(15)]
        dispatcher.put([Message(s, b"m", "t") for s in alices])
        deadline = time.monotonic() + HANG
        while len(hanging) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        dispatcher.put([Message(subscription(100, owner="bob"), b"m", "t")])
        assert bob_sent.wait(HANG)
        assert len(hanging) == 2 and most == 2  # alice's share, never more
    finally:
        release.set()
        assert dispatcher.close(wait=HANG)


def test_a_failing_destination_backs_off_and_is_dropped_in_the_end() -> None:
    clock = Clock()
    attempts: list[tuple[float, int]] = []
    dropped: list[int] = []
    live = {1: True}

    def sender(message: Message) -> Outcome:
        attempts.append((clock.now, message.subscription.id))
        return Outcome.SENT if live.get(message.subscription.id) else Outcome.FAILED

    limits = SendLimits(backoff=10.0, max_backoff=3600.0, give_up_failures=4, give_up_after=7200)
    dispatcher = Dispatcher(sender, lambda i: None, dropped.append, limits=limits, clock=clock)
    dead, alive = subscription(2, origin="https://dead.example"), subscription(1)

    dispatcher.put([Message(dead, b"m1", "t"), Message(alive, b"m1", "t")])
    assert dispatcher.drain() == pytest.approx(10.0)  # the dead one: again in 10 s
    waits = []
    for _ in range(3):
        clock.now += dispatcher.drain() or 0.0
        dispatcher.drain()
        waits.append(dispatcher.drain())
    assert waits == pytest.approx([20.0, 40.0, 80.0])  # doubling
    assert dropped == []  # four failures, but within minutes: kept
    clock.now += 3 * 3600.0  # hours of failing...
    dispatcher.drain()
    assert dropped == [2]  # ... and then removed
    assert dispatcher.drain() is None  # nothing is retried for it any more
    assert [n for _, n in attempts].count(1) == 1  # the live one went once, at once

    # A success in between starts the count again: three failures, one message through,
    # three failures, over many hours, are never four in a row.
    flaky = subscription(3, origin="https://flaky.example")
    for answer in (False, False, False, True, False, False, False):
        live[3] = answer
        clock.now += 5000.0
        dispatcher.put([Message(flaky, b"m", "t")])
        dispatcher.drain()
    assert dropped == [2]
    assert [n for _, n in attempts].count(3) == 7


@dataclass
class Trickle:
    """A push service that answers a header line every 0.1 s, and never ends."""

    listener: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    stop: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 201 Created\r\n")
            while not self.stop.wait(0.1):
                try:
                    connection.sendall(b"X-Slow: a\r\n")
                except OSError:
                    return


def test_a_push_service_that_trickles_is_given_up_on_at_the_messages_deadline(
    push_service: PushService,
) -> None:
    """Each read gets a byte in time, so read timeouts alone would wait for ever; the
    message's deadline (``Delivery.timeout``) bounds the whole exchange."""
    trickle = Trickle()
    threading.Thread(target=trickle.serve, daemon=True).start()
    port = trickle.listener.getsockname()[1]
    keys = push_service.subscriber("keys")
    target = keys.subscription(f"http://127.0.0.1:{port}/push/x")
    vapid = Vapid(new_private_key(), "mailto:admin@example.org")
    outcome: list[Outcome] = []

    def deliver() -> None:
        with guarded_client(Destinations(["127.0.0.1"])) as client:
            payload = push_message("topic", "token")
            outcome.append(send(client, vapid, target, payload, "topic", Delivery(timeout=1.0)))

    thread = threading.Thread(target=deliver, daemon=True)
    thread.start()
    thread.join(HANG)
    trickle.stop.set()
    trickle.listener.close()
    assert not thread.is_alive(), "the sender is still reading the trickle"
    assert outcome == [Outcome.FAILED]
