"""When books are pulled and pushed: soon after a write, when a read finds its book stale,
when Aurinko says a book changed, and every ``interval`` in the background (sooner while
writes wait, or while another instance owns a book, to take it over if that one dies)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from ..aurinko import AurinkoClient
from ..store import Book, ContactStore, Outbox, StoreError
from .instances import Instances
from .options import EngineOptions
from .reports import SyncReport
from .runner import BookRunner, Job

log = logging.getLogger("bridge.sync")


class Scheduled(Protocol):
    """What the scheduler reads of the engine, at each use: ``options`` may be replaced."""

    options: EngineOptions
    clients: dict[int, AurinkoClient]
    store: ContactStore
    outbox: Outbox
    runner: BookRunner
    instances: Instances

    def sync(self, book: Book) -> SyncReport: ...


class Scheduler:
    def __init__(self, engine: Scheduled) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._loop: threading.Thread | None = None

    # -- on request -----------------------------------------------------------------------

    def push_soon(self, book: Book, href: str) -> bool:
        """Push the book's outbox in the background; wait ``write_wait`` for it only when
        so configured (the write is in the store and the outbox already: it never fails
        over this). True if the push ran meanwhile."""
        engine = self._engine
        if book.id not in engine.clients:
            return False
        ticket = engine.instances.ask(book.id, Job.PUSH)
        wait = engine.options.write_wait
        if ticket is None or wait <= 0:  # write-behind, or another instance pushes it
            return False
        if self._not_worth_waiting(book, wait):
            return False
        if not engine.runner.wait(book.id, ticket, wait):
            log.info("%s: Aurinko is slow; %s waits in the outbox", book.path, href)
            return False
        return True

    def refresh(self, books: list[Book], max_age: float, wait: float) -> None:
        """Pull the stale ones of ``books`` in the background, waiting at most ``wait``
        seconds in all for them; then the caller serves what the store holds. Accounts
        found unreachable are not waited for at all."""
        engine = self._engine
        stale = [b for b in books if b.id in engine.clients and not self._fresh(b.id, max_age)]
        # A book another instance owns is pulled there; the store is served meanwhile.
        asked = [(book, engine.instances.ask(book.id, Job.PULL)) for book in stale]
        tickets = [(book, ticket) for book, ticket in asked if ticket is not None]
        deadline = time.monotonic() + wait
        for book, ticket in tickets:
            left = deadline - time.monotonic()
            if left <= 0 or self._not_worth_waiting(book, engine.options.request_wait):
                continue
            if not engine.runner.wait(book.id, ticket, left):
                log.info("%s: still syncing; serving the stored state", book.path)

    def notified(self, book: Book) -> None:
        """Aurinko says the book changed (a webhook): pull it now, in the background, here
        or at the instance that owns it. Requests coalesce as any others do."""
        if book.id in self._engine.clients:
            self._engine.instances.ask(book.id, Job.PULL)

    def pulled_before(self, book_id: int, since: float) -> bool:
        """Whether no pull of the book ended since ``since`` (a pull asked for then is
        still to do)."""
        last_pull = self._engine.store.book_by_id(book_id).last_pull
        return last_pull is None or last_pull < since

    def _fresh(self, book_id: int, max_age: float) -> bool:
        last_pull = self._engine.store.book_by_id(book_id).last_pull
        return last_pull is not None and time.time() - last_pull < max_age

    def unreachable(self, book: Book) -> bool:
        """Whether the book's account was found unreachable and is being backed off."""
        client = self._engine.clients.get(book.id)
        return client is not None and client.paused_for() > 0

    def _not_worth_waiting(self, book: Book, wait: float) -> bool:
        """Aurinko is backed off, or the book's run under way has already outlasted what
        one request waits (an earlier request waited for it in vain)."""
        stuck = self._engine.runner.busy_for(book.id) > wait
        return stuck or self.unreachable(book)

    # -- in the background -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self, interval: float) -> None:
        """Sync every attached book every ``interval`` seconds until ``stop()``."""
        if self._loop is not None:
            return
        self._stop.clear()
        self._loop = threading.Thread(
            target=self._run_loop, args=(interval,), name="bridge-sync", daemon=True
        )
        self._loop.start()

    def wake(self) -> None:
        """Start the next background round now (a run failed: it retries when the account
        allows)."""
        self._wake.set()

    def _run_loop(self, interval: float) -> None:
        engine = self._engine
        while not self._stop.is_set():
            for book_id in list(engine.clients):
                if self._stop.is_set():
                    break
                if not engine.instances.owns(book_id):
                    continue  # another instance's book: it syncs it
                try:
                    report = engine.sync(engine.store.book_by_id(book_id))
                    log.info("%s", report.summary())
                except StoreError as exc:  # an outage of the store: the next round retries
                    log.warning("background sync of book %d: %s", book_id, exc)
                except Exception:  # the loop must outlive any one bad run
                    log.exception("background sync of book %d failed", book_id)
            self._wake.clear()
            if self._stop.is_set():
                break  # stopped during the round: the wake-up it sent was just cleared
            self._wake.wait(self._next_round(interval))

    def _next_round(self, interval: float) -> float:
        """Seconds until the next round: the interval, or sooner while writes wait, or
        while another instance owns a book (to take it over soon if that one dies)."""
        engine = self._engine
        waits = [interval]
        for book_id, client in list(engine.clients.items()):
            if not engine.instances.owns(book_id):
                waits.append(engine.options.takeover_check)
            elif engine.outbox.count(book_id):
                waits.append(max(engine.options.retry_pending, client.paused_for()))
        return min(waits)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._loop is not None:
            self._loop.join(timeout=30)
            self._loop = None
