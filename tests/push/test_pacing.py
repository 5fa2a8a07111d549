"""How the sender paces a book's push messages, on a clock of the test's own: the first
change after a quiet spell goes out at once, a burst makes one message per interval and
its last change is in the last message. The store is a stand-in whose change-log
positions the test moves; messages really go, to the push service of ``conftest`` on
127.0.0.1, and ``tick`` sends them before it returns (the sender's thread is not started).
Nothing here reads the wall clock: the assertions are on the clock the notifier is given
and on what ``tick`` says about its next look."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from bridge.push import PushOptions
from bridge.push.destination import Destinations
from bridge.push.notifier import Notifier
from bridge.push.vapid import Vapid, new_private_key
from bridge.store.push import Subscription

from .conftest import Clock, PushService, Subscriber

BOOK = 7
LOOPBACK = Destinations(["127.0.0.1"])  # the push service of ``conftest``, allowed
OPTIONS = PushOptions(interval=5.0, settle=0.05, poll=60.0, purge_every=1e9)


@dataclass
class ChangeLog:
    """The part of ``PushStore`` the sender reads: one subscribed book whose change-log
    position the test moves, and its one subscription."""

    subscription: Subscription
    seq: int = 0
    sent: list[int] = field(default_factory=list)

    def positions(self, now: float) -> dict[int, int]:
        return {BOOK: self.seq}

    def live(self, book_id: int, now: float) -> list[Subscription]:
        return [self.subscription] if book_id == BOOK else []

    def get(self, subscription_id: int) -> Subscription | None:
        return self.subscription if subscription_id == self.subscription.id else None

    def changes(self, book_id: int, after: int, upto: int) -> list[tuple[int, str]]:
        return [(seq, f"card-{seq}.vcf") for seq in range(after + 1, upto + 1)]

    def mark_sent(self, subscription_ids: list[int], when: float) -> None:
        self.sent.extend(subscription_ids)

    def purge_expired(self, now: float) -> int:
        return 0

    def delete(self, subscription_id: int) -> bool:
        return False


@dataclass
class Pacing:
    """The notifier on the test's clock, and what it sent when (by that clock)."""

    notifier: Notifier
    clock: Clock
    log: ChangeLog
    phone: Subscriber
    sent: list[tuple[float, int]] = field(default_factory=list)  # (clock, seq in the message)

    def tick(self) -> float:
        """One look; the messages it sent are noted at the clock's time."""
        before = len(self.phone.messages)
        wait = self.notifier.tick()
        for message in self.phone.messages[before:]:
            token = message.sync_token or ""
            self.sent.append((self.clock.now, int(token.removeprefix("token-"))))
        assert not self.phone.errors, self.phone.errors
        return wait

    def change(self) -> None:
        """A write or a pull moves the book's change log by one entry."""
        self.log.seq += 1

    def run_until(self, end: float) -> None:
        """Let time pass to ``end`` as the sender's thread would: a look whenever the
        last one said the next is due, and at once after a message went (its wake-up)."""
        while True:
            wait = self.tick()
            if self.notifier._wake.is_set():
                self.notifier._wake.clear()
                continue
            if self.clock.now + wait > end:
                break
            self.clock.now += wait
        self.clock.now = end

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.sent]

    @property
    def seqs(self) -> list[int]:
        return [seq for _, seq in self.sent]


@pytest.fixture
def pacing(push_service: PushService) -> Iterator[Pacing]:
    phone = push_service.subscriber("phone")
    clock, log = Clock(1000.0), ChangeLog(phone.subscription(book_id=BOOK))
    notifier = Notifier(
        log,  # type: ignore[arg-type]
        Vapid(new_private_key(), "mailto:admin@example.org"),
        lambda book_id: f"topic-{book_id}",
        sync_token=lambda book_id, seq: f"token-{seq}",
        options=OPTIONS,
        clock=clock,
        destinations=LOOPBACK,
    )
    pacing = Pacing(notifier, clock, log, phone)
    assert pacing.tick() == OPTIONS.poll  # the book is known, at position 0: nothing to send
    yield pacing
    notifier.close()


def test_a_change_after_a_quiet_spell_is_sent_at_once(pacing: Pacing) -> None:
    pacing.clock.now += 3600  # nothing for an hour
    pacing.change()
    wait = pacing.tick()
    assert pacing.sent == []  # not in this very look: the write may still name whom to spare
    assert wait == pytest.approx(OPTIONS.settle)  # but in the next one, not a window later
    assert wait < OPTIONS.interval / 10
    pacing.clock.now += wait
    assert pacing.tick() == OPTIONS.poll  # sent: nothing more is due
    assert pacing.sent == [(pacing.clock.now, 1)]

    # A quiet spell after a message counts as well: the next change goes out at once too.
    first = pacing.clock.now
    pacing.run_until(first + OPTIONS.interval + 1.0)
    pacing.change()
    changed = pacing.clock.now
    pacing.run_until(changed + 1.0)
    assert pacing.seqs == [1, 2]
    assert pacing.times == pytest.approx([first, changed + OPTIONS.settle])


def test_a_change_soon_after_a_message_waits_for_the_end_of_its_window(pacing: Pacing) -> None:
    pacing.change()
    pacing.run_until(pacing.clock.now + 1.0)
    ((first, _),) = pacing.sent
    pacing.change()
    wait = pacing.tick()
    assert wait == pytest.approx(first + OPTIONS.interval - pacing.clock.now)
    pacing.run_until(first + 2 * OPTIONS.interval)
    assert pacing.seqs == [1, 2]
    assert pacing.times == pytest.approx([first, first + OPTIONS.interval])


def test_a_burst_makes_one_message_per_window_the_last_with_its_last_change(
    pacing: Pacing,
) -> None:
    start = pacing.clock.now
    for step in range(25):  # a change every 0.5 s for 12 s: over two windows and a half
        pacing.run_until(start + step * 0.5)
        pacing.change()
    last_change = pacing.clock.now
    pacing.run_until(last_change + 3 * OPTIONS.interval)

    times, seqs = pacing.times, pacing.seqs
    assert times[0] == pytest.approx(start + OPTIONS.settle)  # the burst's first: at once
    assert seqs[0] == 1
    assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx(
        [OPTIONS.interval] * (len(times) - 1)
    )  # then one message per window, at its end
    assert len(pacing.sent) == 4  # 0.05, 5.05, 10.05 and 15.05 s after the first change
    assert seqs == sorted(set(seqs))  # in order, each with news
    assert seqs[-1] == 25 == pacing.log.seq  # the last change is in the last message
    assert times[-1] >= last_change

    # Quiet again: the next change is not held back by the burst's windows.
    pacing.run_until(times[-1] + OPTIONS.interval)
    pacing.change()
    changed = pacing.clock.now
    pacing.run_until(changed + OPTIONS.interval)
    assert pacing.seqs[4:] == [26]
    assert pacing.times[4] == pytest.approx(changed + OPTIONS.settle)


def test_a_change_seen_while_a_message_is_being_sent_follows_it(pacing: Pacing) -> None:
    """A slow push service: what changes meanwhile is not lost, nor sent twice at once."""
    pacing.change()
    real_send = pacing.notifier._send
    during: list[float] = []

    def slow_send(book_id: int, after: int, upto: int) -> None:
        if not during:  # the first message: the book changes while it is on its way
            during.append(pacing.clock.now)
            pacing.change()
            assert pacing.notifier.tick() >= OPTIONS.settle  # busy: nothing sent from here
        real_send(book_id, after, upto)

    pacing.notifier._send = slow_send  # type: ignore[method-assign]
    pacing.run_until(pacing.clock.now + 2 * OPTIONS.interval)
    assert pacing.seqs == [1, 2]
    assert pacing.times[1] == pytest.approx(pacing.times[0] + OPTIONS.interval)


def test_a_write_wakes_the_sender_only_once_a_book_has_subscribers(pacing: Pacing) -> None:
    """Waking the sender costs each write a thread switch: not worth it for nobody."""
    fresh = Notifier(
        pacing.log,  # type: ignore[arg-type]
        Vapid(new_private_key(), "mailto:admin@example.org"),
        lambda book_id: f"topic-{book_id}",
    )
    assert not fresh.watching()  # nothing looked at yet: no book known to have subscribers
    fresh.track(BOOK)  # a registration
    assert fresh.watching()
    assert pacing.notifier.watching()  # the fixture's first look found the subscribed book
