"""Requests between instances sharing a PostgreSQL store: one asks the owner of a book for
a run of it (``NOTIFY``); each instance hears the requests on a ``LISTEN`` session of its
own and hands each to a callback. A lost session is opened again.

A request is ``<book id>:<job>`` on one channel: the job is a number the engine gives
meaning to (``bridge.sync.runner.Job``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .interface import Database

log = logging.getLogger("bridge.sync")

CHANNEL = "bridge_books"
POLL = 1.0  # how soon a stop is noticed
RECONNECT = 1.0  # wait before opening a lost session again

Request = Callable[[int, int], None]  # (book id, job)


def ask(db: Database, book_id: int, job: int) -> None:
    """Ask whichever instance listens (the book's owner acts) for a run of the book. One
    autocommit statement: it need not wait for the store's write lock."""
    db.connection().execute("SELECT pg_notify(?, ?)", (CHANNEL, f"{book_id}:{job}"))


def parse(payload: str) -> tuple[int, int] | None:
    """A request's book id and job, or None for a payload that is not one."""
    book_id, _, job = payload.partition(":")
    if not (book_id.isdigit() and job.isdigit()):
        return None
    return int(book_id), int(job)


class Listener:
    def __init__(self, connect: Callable[[], Any], on_request: Request) -> None:
        self._connect = connect
        self._on_request = on_request
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while a LISTEN is in place

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="bridge-listen", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=POLL * 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # the server restarted, the network dropped: again
                self.listening.clear()
                log.warning("listening for other instances' requests failed: %s", exc)
                self._stop.wait(RECONNECT)

    def _listen(self) -> None:
        with self._connect() as conn:
            conn.execute(f'LISTEN "{CHANNEL}"')
            self.listening.set()
            while not self._stop.is_set():
                for notify in conn.notifies(timeout=POLL):
                    self._handle(notify.payload)
        self.listening.clear()

    def _handle(self, payload: str) -> None:
        request = parse(payload)
        if request is None:
            return
        try:
            self._on_request(*request)
        except Exception:  # one bad request must not end the listening
            log.exception("handling another instance's request %r failed", payload)
