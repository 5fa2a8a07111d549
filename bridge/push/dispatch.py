"""Sending push messages fairly: per destination, within a rate, backing off from failures.

A destination is one user's push service: the origin (scheme, host, port) of the push
resources a user registered. Each has its own queue, holding at most one message per
subscription: a newer message replaces one not yet sent (only the latest sync token
matters to a client), so nothing piles up behind a slow or dead service.

- One message at a time per destination, and at most ``user_sends`` of one user's
  destinations at a time: a user's dead push services can hold that many senders of the
  pool, never all of it, and only for a message's deadline (``Delivery.timeout``).
  Destinations that have not failed go first.
- At most ``per_minute`` messages to a destination in any minute: beyond that a message
  waits (deferred, not dropped) and is folded into the next one that may go.
- A failure (unreachable, timeout, 429, 5xx) keeps the message for a retry, after a
  back-off that doubles from ``backoff`` up to ``max_backoff``; a newer message replaces
  it meanwhile. A destination that failed ``give_up_failures`` times in a row over at
  least ``give_up_after`` seconds loses its subscriptions (a client that is still there
  registers again). The count lives in memory: a restart starts it afresh.

Keying by user and origin rather than origin alone: the big push services (Google's,
Mozilla's, ntfy.sh) carry every user's phones, and one bound for all of them would make
users wait on each other there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..store.push import Subscription
from .webpush import Outcome

log = logging.getLogger("bridge.push")

MINUTE = 60.0
Key = tuple[str, str]  # (user, origin)


@dataclass(frozen=True)
class SendLimits:
    workers: int = 8  # messages being sent at once, all destinations together
    user_sends: int = 2  # of those, to one user's destinations
    backoff: float = 10.0  # seconds before a failed destination is tried again; doubles
    max_backoff: float = 3600.0
    give_up_failures: int = 10  # consecutive failures, over at least ``give_up_after``,
    give_up_after: float = 24 * 3600.0  # before a destination's subscriptions are removed


@dataclass(frozen=True)
class Message:
    subscription: Subscription
    payload: bytes
    topic: str


def destination_of(subscription: Subscription) -> Key:
    parts = urlsplit(subscription.endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return subscription.owner, f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass
class _Destination:
    key: Key
    pending: dict[int, Message] = field(default_factory=dict)  # by subscription id
    busy: bool = False
    failures: int = 0  # in a row
    failing_since: float | None = None
    retry_at: float = float("-inf")
    recent: deque[float] = field(default_factory=deque)  # attempts in the last minute
    failed: set[int] = field(default_factory=set)  # subscriptions last tried in vain

    def ready_at(self, now: float, per_minute: int) -> float:
        """When its next message may go: after its back-off, within its rate."""
        self.forget(now)
        ready = self.retry_at
        if len(self.recent) >= per_minute:
            ready = max(ready, self.recent[0] + MINUTE)
        return ready

    def forget(self, now: float) -> None:
        """Drop the attempts older than a minute: they no longer count."""
        while self.recent and self.recent[0] <= now - MINUTE:
            self.recent.popleft()

    def idle(self, now: float) -> bool:
        """Nothing to remember: its entry can go (a new message makes it again)."""
        self.forget(now)
        return not (self.pending or self.busy or self.failures or self.recent)


class Dispatcher:
    """Queues messages per destination and sends them on ``limits.workers`` threads
    (``start``), or on the caller's (``drain``: tests on a clock of their own).
    ``send`` sends one; ``sent`` and ``drop`` are told of each subscription that took a
    message and of each to remove."""

    def __init__(
        self,
        send: Callable[[Message], Outcome],
        sent: Callable[[int], None],
        drop: Callable[[int], None],
        *,
        limits: SendLimits | None = None,
        per_minute: int = 30,
        clock: Callable[[], float] = time.monotonic,
        counted: Callable[[bool], None] | None = None,
    ) -> None:
        """``counted`` is told of each message's fate (True: sent), for the metrics."""
        self.send, self.sent, self.drop = send, sent, drop
        self.counted = counted
        self.limits = limits or SendLimits()
        self.per_minute = per_minute
        self.clock = clock
        self._destinations: OrderedDict[Key, _Destination] = OrderedDict()
        self._sending: Counter[str] = Counter()  # user -> messages on their way
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stop = False

    def put(self, messages: list[Message]) -> None:
        with self._cond:
            for message in messages:
                key = destination_of(message.subscription)
                destination = self._destinations.setdefault(key, _Destination(key))
                destination.pending[message.subscription.id] = message  # the newest wins
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return sum(len(d.pending) for d in self._destinations.values())

    # -- threads ------------------------------------------------------------------------

    def start(self) -> None:
        for number in range(self.limits.workers):
            thread = threading.Thread(target=self._work, name=f"webdav-push-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self, wait: float) -> bool:
        """Stop the senders; whether they all ended within ``wait`` seconds (one may be
        in the middle of a message, which its deadline ends)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        end = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stop:
                        return
                    taken = self._take(self.clock())
                    if isinstance(taken, tuple):
                        break
                    self._cond.wait(taken)  # until a message may go, or news
            self._deliver(*taken)

    def drain(self) -> float | None:
        """Send, on this thread, every message that may go now; then how long until the
        next may (None: none is waiting)."""
        while True:
            with self._cond:
                taken = self._take(self.clock())
            if not isinstance(taken, tuple):
                return taken
            self._deliver(*taken)

    # -- choosing and sending -----------------------------------------------------------

    def _take(self, now: float) -> tuple[_Destination, Message] | float | None:
        """The next message to send and its destination, marked busy (the lock held);
        else how long until one may go (None: none is waiting)."""
        soonest: float | None = None
        for destination in self._candidates(now):
            ready = destination.ready_at(now, self.per_minute)
            if ready > now:
                soonest = ready if soonest is None else min(soonest, ready)
                continue
            self._destinations.move_to_end(destination.key)  # the others' turn next
            subscription_id = next(iter(destination.pending))
            message = destination.pending.pop(subscription_id)
            destination.busy = True
            destination.recent.append(now)
            self._sending[destination.key[0]] += 1
            return destination, message
        return None if soonest is None else max(0.0, soonest - now)

    def _candidates(self, now: float) -> list[_Destination]:
        """Destinations with a message and a free sender for their user, those that have
        not failed first (a user's live phone does not wait behind her dead ones)."""
        for key in [k for k, d in self._destinations.items() if d.idle(now)]:
            del self._destinations[key]
        found = [
            d
            for d in self._destinations.values()
            if d.pending and not d.busy and self._sending[d.key[0]] < self.limits.user_sends
        ]
        return sorted(found, key=lambda d: d.failures > 0)  # stable: round robin kept

    def _deliver(self, destination: _Destination, message: Message) -> None:
        try:
            outcome = self.send(message)
        except Exception:
            log.exception("WebDAV-Push: message to subscription %d", message.subscription.id)
            outcome = Outcome.FAILED
        if self.counted is not None:
            self.counted(outcome is Outcome.SENT)
        with self._cond:
            removed = self._finish(destination, message, outcome, self.clock())
            stopped = self._stop
            self._cond.notify_all()
        if stopped:
            return  # closing: the store may be closed too
        try:
            if outcome is Outcome.SENT:
                self.sent(message.subscription.id)
            for subscription_id in removed:
                self.drop(subscription_id)
        except Exception:
            log.exception("WebDAV-Push: cannot record a message's outcome")

    def _finish(
        self, destination: _Destination, message: Message, outcome: Outcome, now: float
    ) -> list[int]:
        """Note how a message went (the lock held); the subscriptions to remove."""
        destination.busy = False
        self._sending[destination.key[0]] -= 1
        subscription_id = message.subscription.id
        if outcome is Outcome.SENT:
            destination.failures, destination.failing_since = 0, None
            destination.retry_at = float("-inf")
            destination.failed.discard(subscription_id)
            return []
        if outcome is Outcome.GONE:
            destination.pending.pop(subscription_id, None)
            destination.failed.discard(subscription_id)
            return [subscription_id]
        destination.pending.setdefault(subscription_id, message)  # unless a newer came
        destination.failed.add(subscription_id)
        return self._failed(destination, now)

    def _failed(self, destination: _Destination, now: float) -> list[int]:
        limits = self.limits
        destination.failures += 1
        if destination.failing_since is None:
            destination.failing_since = now
        delay = limits.backoff * 2 ** min(destination.failures - 1, 30)
        destination.retry_at = now + min(limits.max_backoff, delay)
        if (
            destination.failures < limits.give_up_failures
            or now - destination.failing_since < limits.give_up_after
        ):
            return []
        removed = sorted(destination.failed | set(destination.pending))
        log.warning(
            "WebDAV-Push: %s's push service %s failed %d times since %.0f s ago:"
            " %d subscription(s) removed",
            destination.key[0],
            destination.key[1],
            destination.failures,
            now - destination.failing_since,
            len(removed),
        )
        destination.pending.clear()
        destination.failed.clear()
        destination.failures, destination.failing_since = 0, None
        return removed
