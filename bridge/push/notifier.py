"""The sender: watches the change log of every book that has subscribers and, when a book's
sync token moves, sends each of them one push message, off every request's thread.

Pacing, per book: the first change after a quiet spell (no message for the book in the
last ``interval`` seconds) is sent at once, after only ``settle`` (tens of milliseconds);
what changes within ``interval`` of a message is folded into one message at the end of
that interval. A burst thus makes at most one message per interval, and its last change
is in the last message (every change is announced). A client's own write is not pushed
back to it when it names its registration in ``Push-Dont-Notify`` (the draft's
suppression).

The messages themselves go out through a ``Dispatcher``: per destination, within a rate,
on a pool of senders no one user's dead push services can fill (see ``dispatch``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from ..store import StoreError
from ..store.push import PushStore, Subscription
from .destination import Destinations
from .dispatch import Dispatcher, Message, SendLimits
from .protocol import push_message
from .transport import guarded_client
from .vapid import Vapid
from .webpush import Delivery, Outcome, send

log = logging.getLogger("bridge.push")

DAY = 24 * 3600.0
RETRY = 1.0  # seconds until the change log is read again after it could not be


@dataclass(frozen=True)
class PushOptions:
    interval: float = 5.0  # at most one message per book this often
    # A change after a quiet spell is sent this long after it is seen: time for the write
    # that made it to say whom not to notify (``quiet``) before it is announced.
    settle: float = 0.05
    # How often the change log is read: what a pull or another process's write waits at
    # most before it is seen (a CardDAV write here wakes the sender at once).
    poll: float = 0.25
    default_expiry: float = 3 * DAY  # a registration that asks for no expiry
    max_expiry: float = 7 * DAY  # the longest a registration is kept without renewal
    purge_every: float = 600.0  # expired subscriptions are deleted this often
    sending: SendLimits = field(default_factory=SendLimits)
    delivery: Delivery = field(default_factory=Delivery)


@dataclass
class _Book:
    notified: int  # the change-log position the last message (or the start) stood at
    seen: int  # the latest position seen
    sent_at: float = float("-inf")  # the clock's time of the last message
    pending_since: float | None = None  # when ``seen`` first moved past ``notified``
    busy: bool = False  # its messages are being made and queued


@dataclass(frozen=True)
class _Quiet:
    """Changes of ``href`` in ``(before, upto]`` were made by a request that asked not to
    notify ``excluded`` (None: anyone)."""

    href: str
    before: int
    upto: int
    excluded: frozenset[int] | None


class Notifier:
    def __init__(
        self,
        store: PushStore,
        vapid: Vapid,
        topic: Callable[[int], str],
        *,
        owns: Callable[[int], bool] = lambda book_id: True,
        sync_token: Callable[[int, int], str] | None = None,
        options: PushOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        destinations: Destinations | None = None,
        per_minute: int = 30,
        counted: Callable[[bool], None] | None = None,
    ) -> None:
        """``topic(book_id)`` names a book in messages; ``owns(book_id)`` says whether this
        instance sends for it (the book's owner among instances sharing a store);
        ``sync_token(book_id, seq)`` is the book's sync token at a change-log position;
        ``clock`` is what pacing is measured with (monotonic seconds); ``destinations``
        says where messages may go; ``per_minute`` bounds the messages to a destination;
        ``counted`` is told whether each message was sent (the metrics)."""
        self.store = store
        self.vapid = vapid
        self.topic = topic
        self.owns = owns
        self.sync_token = sync_token
        self.options = options or PushOptions()
        self.clock = clock
        self.destinations = destinations or Destinations()
        self.dispatcher = Dispatcher(
            self._deliver,
            self._sent,
            self._drop,
            limits=self.options.sending,
            per_minute=per_minute,
            clock=clock,
            counted=counted,
        )
        self._books: dict[int, _Book] = {}
        self._quiet: dict[int, list[_Quiet]] = {}
        self._lock = threading.Lock()
        self._client_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None
        self._purged = float("-inf")

    # -- called from requests -------------------------------------------------------

    def track(self, book_id: int) -> None:
        """Start watching a book now (a registration): a change right after it counts."""
        seq = self.store.positions(time.time()).get(book_id)
        if seq is None:
            return
        with self._lock:
            if book_id not in self._books:
                self._books[book_id] = _Book(notified=seq, seen=seq)

    def watching(self) -> bool:
        """Whether any book has subscribers: until one has, writes need not wake the sender."""
        with self._lock:
            return bool(self._books)

    def poke(self) -> None:
        """Something was written: look at the change log now rather than at the next poll."""
        self._wake.set()

    def quiet(
        self, book_id: int, href: str, before: int, upto: int, excluded: frozenset[int] | None
    ) -> None:
        """A write of ``href`` moved the book from ``before`` to ``upto`` and asked not to
        notify ``excluded`` (None: anyone) of it."""
        if upto <= before:
            return
        with self._lock:
            self._quiet.setdefault(book_id, []).append(_Quiet(href, before, upto, excluded))
        self._wake.set()

    # -- the thread -----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self.dispatcher.start()
        with self._lock:
            for book_id, seq in self.store.positions(time.time()).items():
                self._books.setdefault(book_id, _Book(notified=seq, seen=seq))
        self._thread = threading.Thread(target=self._run, name="webdav-push", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        # A sender in the middle of a message ends by its deadline; its client is left to
        # it (closing the pool under it would only make it fail sooner and noisier).
        ended = self.dispatcher.close(wait=self.options.delivery.timeout + 1.0)
        with self._client_lock:
            if self._client is not None and ended:
                self._client.close()
            self._client = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.tick()
            except StoreError as exc:  # the store is away for a moment: try again soon
                log.warning("WebDAV-Push: cannot read the change log: %s", exc)
                wait = max(self.options.poll, RETRY)
            except Exception:
                log.exception("WebDAV-Push: cannot read the change log")
                wait = max(self.options.poll, RETRY)
            self._wake.wait(wait)
            self._wake.clear()

    def tick(self) -> float:
        """One look at every subscribed book: send what is due; how long until the next
        look is (a book's message falling due, or the next poll)."""
        options = self.options
        now, wall = self.clock(), time.time()
        if wall - self._purged >= options.purge_every:
            self._purged = wall
            purged = self.store.purge_expired(wall)
            if purged:
                log.info("WebDAV-Push: %d expired subscription(s) removed", purged)
        positions = self.store.positions(wall)
        due: list[tuple[int, int, int]] = []
        wait = options.poll
        with self._lock:
            for book_id in set(self._books) - set(positions):
                if not self._books[book_id].busy:
                    del self._books[book_id]  # no subscriber left
                    self._quiet.pop(book_id, None)
            for book_id, seq in positions.items():
                book = self._books.get(book_id)
                if book is None:
                    self._books[book_id] = _Book(notified=seq, seen=seq)
                    continue
                if seq > book.seen:
                    book.seen = seq
                    if book.pending_since is None:
                        book.pending_since = now
                if book.seen <= book.notified or book.busy or book.pending_since is None:
                    continue
                # After a quiet spell, at once (but for ``settle``); within ``interval`` of
                # the last message, at the end of that interval, with all that came meanwhile.
                ready = max(book.sent_at + options.interval, book.pending_since + options.settle)
                if ready > now:
                    wait = min(wait, ready - now)
                    continue
                due.append((book_id, book.notified, book.seen))
                book.notified, book.sent_at, book.pending_since = book.seen, now, None
                book.busy = True
        for book_id, after, upto in due:
            self._notify(book_id, after, upto)  # reads the store; the sending is queued
        if self._thread is None:  # not started (tests): the messages go from here
            deferred = self.dispatcher.drain()
            if deferred is not None:
                wait = min(wait, deferred)
        return max(0.01, wait)

    # -- sending ----------------------------------------------------------------------

    def _notify(self, book_id: int, after: int, upto: int) -> None:
        try:
            if self.owns(book_id):
                self._send(book_id, after, upto)
        except StoreError as exc:
            log.warning("WebDAV-Push: messages for book %d not sent: %s", book_id, exc)
        except Exception:
            log.exception("WebDAV-Push: messages for book %d failed", book_id)
        finally:
            with self._lock:
                book = self._books.get(book_id)
                if book is not None:
                    book.busy = False
                self._quiet[book_id] = [q for q in self._quiet.get(book_id, []) if q.upto > upto]
            self._wake.set()  # changes that came meanwhile may be due now

    def _send(self, book_id: int, after: int, upto: int) -> None:
        """Queue the book's message for each subscriber not silenced."""
        subscriptions = self.store.live(book_id, time.time())
        silenced = self._silenced(book_id, after, upto, subscriptions)
        recipients = [s for s in subscriptions if s.id not in silenced]
        if not recipients:
            return
        token = self.sync_token(book_id, upto) if self.sync_token is not None else None
        topic = self.topic(book_id)
        payload = push_message(topic, token)
        self.dispatcher.put([Message(s, payload, topic) for s in recipients])
        log.debug(
            "WebDAV-Push: book %d at %d: %d message(s) queued", book_id, upto, len(recipients)
        )

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = guarded_client(self.destinations)
            return self._client

    def _deliver(self, message: Message) -> Outcome:
        """Send one queued message, unless its subscription went meanwhile."""
        subscription = self.store.get(message.subscription.id)
        if subscription is None or (
            subscription.expires is not None and subscription.expires <= time.time()
        ):
            return Outcome.GONE
        delivery = self.options.delivery
        return send(
            self._http(), self.vapid, subscription, message.payload, message.topic, delivery
        )

    def _sent(self, subscription_id: int) -> None:
        self.store.mark_sent([subscription_id], time.time())

    def _drop(self, subscription_id: int) -> None:
        self.store.delete(subscription_id)

    def _silenced(
        self, book_id: int, after: int, upto: int, subscriptions: list[Subscription]
    ) -> set[int]:
        """The subscriptions every change in ``(after, upto]`` asked not to notify."""
        with self._lock:
            quiet = [q for q in self._quiet.get(book_id, []) if q.upto > after and q.before < upto]
        if not quiet:
            return set()
        changes = self.store.changes(book_id, after, upto)
        if not changes:
            return set()
        silenced = set()
        for subscription in subscriptions:
            if all(
                any(
                    q.href == href
                    and q.before < seq <= q.upto
                    and (q.excluded is None or subscription.id in q.excluded)
                    for q in quiet
                )
                for seq, href in changes
            ):
                silenced.add(subscription.id)
        return silenced
