"""Remote work that requests ask for, done off the request's thread.

A CardDAV request never talks to Aurinko itself: it asks for a push or a pull of its book
and waits for it a short while at most. Requests for the same book coalesce: one run per
book at a time, and one more after it for whatever was asked meanwhile.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import logs
from ..store import StoreError

log = logging.getLogger("bridge.sync")


class Job(enum.Flag):
    PUSH = enum.auto()
    PULL = enum.auto()


# A run serving a burst of requests names this many of them in its log lines at most.
_MAX_REQUEST_IDS = 8

# A book's worker waits this long for more work before its thread ends (a burst of
# requests reuses one thread: starting one per request costs a GIL handoff each time).
IDLE = 60.0


@dataclass
class _Book:
    wake: threading.Condition  # on the runner's one lock: the worker and waiters meet here
    wanted: Job = field(default_factory=lambda: Job(0))
    since: float = 0.0  # when the oldest request in ``wanted`` was made
    asked: int = 0  # tickets handed out
    served: int = 0  # every ticket up to this one has had its run
    thread: threading.Thread | None = None
    started: float | None = None  # when the run under way began (monotonic)
    pull_since: float | None = None  # when the oldest pull not yet run was asked for
    pulling_since: float | None = None  # the same, of the pull under way
    requests: set[str] = field(default_factory=set)  # ids of the requests ``wanted`` serves


# run(book_id, jobs, since): does the work; ``since`` lets a pull skip itself when another
# one finished after the request was made.
Run = Callable[[int, Job, float], None]


class BookRunner:
    def __init__(self, run: Run) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._books: dict[int, _Book] = {}
        self._closed = False

    def _book(self, book_id: int) -> _Book:
        state = self._books.get(book_id)
        if state is None:
            state = self._books[book_id] = _Book(threading.Condition(self._lock))
        return state

    def ask(self, book_id: int, job: Job) -> int:
        """Ask for ``job`` on the book; the ticket is served by a run that starts after now."""
        with self._lock:
            state = self._book(book_id)
            if not state.wanted:
                state.since = time.time()
            if Job.PULL in job and state.pull_since is None:
                state.pull_since = time.time()
            rid = logs.request_id.get()
            if rid is not None and len(state.requests) < _MAX_REQUEST_IDS:
                state.requests.add(rid)
            state.wanted |= job
            state.asked += 1
            if state.thread is None and not self._closed:
                state.thread = threading.Thread(
                    target=self._work, args=(book_id,), name=f"bridge-book-{book_id}", daemon=True
                )
                state.thread.start()
            state.wake.notify_all()
            return state.asked

    def wait(self, book_id: int, ticket: int, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the run serving ``ticket``; True if it ran."""
        with self._lock:
            state = self._book(book_id)
            return state.wake.wait_for(lambda: state.served >= ticket, timeout)

    def pull_lag(self, book_id: int) -> float:
        """Seconds since the oldest pull of the book that has not finished was asked for (a
        webhook's, a stale read's, the schedule's); 0 when none waits."""
        with self._lock:
            state = self._books.get(book_id)
            asked = [] if state is None else [state.pull_since, state.pulling_since]
        oldest = min((t for t in asked if t is not None), default=None)
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

    def busy_for(self, book_id: int) -> float:
        """Seconds the book's run under way has taken so far (0 when none is)."""
        with self._lock:
            state = self._books.get(book_id)
            started = state.started if state is not None else None
        return 0.0 if started is None else time.monotonic() - started

    def _work(self, book_id: int) -> None:
        with self._lock:
            state = self._books[book_id]
        while True:
            with self._lock:
                state.wake.wait_for(lambda: bool(state.wanted) or self._closed, IDLE)
                if not state.wanted or self._closed:
                    state.thread = None
                    return
                job, since, covers = state.wanted, state.since, state.asked
                requests, state.requests = state.requests, set()
                state.pulling_since, state.pull_since = state.pull_since, None
                state.wanted = Job(0)
                state.started = time.monotonic()
            try:
                with logs.scope(",".join(sorted(requests)) or None):
                    self._run(book_id, job, since)
            except StoreError as exc:  # an outage of the store: the next request asks again
                log.warning("background %s of book %d: %s", job, book_id, exc)
            except Exception:  # the next request asks again; this one must not kill the book
                if self._closed:  # the store closed under a run that outlived the shutdown
                    log.info("background %s of book %d cut short by the shutdown", job, book_id)
                else:
                    log.exception("background %s of book %d failed", job, book_id)
            finally:
                with self._lock:
                    state.served = covers
                    state.started = None
                    state.pulling_since = None
                    state.wake.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """No new runs; wait a little for the ones under way (a stuck call is left behind:
        its op stays claimed and is reconciled at the next start)."""
        with self._lock:
            self._closed = True
            threads = [s.thread for s in self._books.values() if s.thread is not None]
            for state in self._books.values():
                state.wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
