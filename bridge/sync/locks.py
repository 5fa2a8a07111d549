"""One sync at a time per address book, across threads, processes and instances, and which
instance syncs a book at all.

On SQLite every process sharing the data directory is on one machine: a ``flock`` per book
serializes their syncs, and each of them may sync any book. On PostgreSQL several ``serve``
instances share the store from several machines: each book has one owner, the instance
holding its session advisory lock (``bridge.store.locks``), and only the owner pulls and
pushes it; the others hand it their requests (``bridge.store.notify``).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from ..private import private_dir
from ..store import BookOwnership

OTHER_OWNER_WAIT = 30.0  # how long a sync waits for a book another instance owns


# In ``<data_dir>/locks``: held shared by every process using a SQLite store.
IN_USE_LOCK = "store.lock"


class StoreInUseError(RuntimeError):
    """A serve, watch or other command of the bridge holds the SQLite store."""


@contextmanager
def store_alone(data_dir: str | Path) -> Iterator[None]:
    """No other process uses the SQLite store of ``data_dir`` meanwhile (each engine holds
    ``IN_USE_LOCK`` shared); StoreInUseError at once if one does."""
    fd = os.open(private_dir(Path(data_dir) / "locks") / IN_USE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreInUseError(f"the store in {data_dir} is in use") from None
        yield
    finally:
        os.close(fd)


class LockTimeout(TimeoutError):
    """Another thread, process or instance holds the book's sync lock."""


class BookLocks(Protocol):
    def hold(self, book_id: int, timeout: float | None = None) -> Any:
        """A context manager: this thread alone syncs the book meanwhile (LockTimeout
        after ``timeout`` seconds; None: wait as long as it takes)."""

    def try_own(self, book_id: int) -> bool:
        """Whether this instance owns the book (taking it if nobody does)."""

    def close(self) -> None: ...


class FileLocks:
    """``flock`` on one file per book under ``<data_dir>/locks``; every process owns every
    book. flock belongs to an open file description, so two threads of one process exclude
    each other as two processes do (the server and a folder watcher on one data directory).
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.root = private_dir(Path(data_dir) / "locks")
        # Held shared for the engine's life: ``store copy`` takes it exclusively, so that
        # it refuses a store a running serve or watch would go on writing to.
        self._in_use: int | None = os.open(self.root / IN_USE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._in_use, fcntl.LOCK_SH)

    @contextmanager
    def hold(self, book_id: int, timeout: float | None = None) -> Iterator[None]:
        fd = os.open(self.root / f"book-{book_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _flock(fd, timeout)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def try_own(self, book_id: int) -> bool:
        return True

    def close(self) -> None:
        fd, self._in_use = self._in_use, None
        if fd is not None:
            os.close(fd)


def _flock(fd: int, timeout: float | None) -> None:
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout("address book is being synced by another task") from None
            time.sleep(0.01)


class OwnerLocks:
    """Book ownership on PostgreSQL: the store's session advisory locks (``ownership``)
    say which books this instance syncs; threads of the instance take turns on a per-book
    lock, and wait a while for a book another instance owns."""

    def __init__(self, ownership: BookOwnership) -> None:
        self._ownership = ownership
        self._books: dict[int, threading.Lock] = {}
        self._books_lock = threading.Lock()

    def try_own(self, book_id: int) -> bool:
        return self._ownership.try_own(book_id)

    def owned(self) -> set[int]:
        return self._ownership.owned()

    @contextmanager
    def hold(self, book_id: int, timeout: float | None = None) -> Iterator[None]:
        deadline = None if timeout is None else time.monotonic() + timeout
        local = self._book_lock(book_id)
        if not local.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise LockTimeout("address book is being synced by another task")
        try:
            self._wait_to_own(book_id, deadline)
            yield
        finally:
            local.release()

    def _wait_to_own(self, book_id: int, deadline: float | None) -> None:
        limit = time.monotonic() + OTHER_OWNER_WAIT if deadline is None else deadline
        while not self.try_own(book_id):
            if time.monotonic() >= limit:
                raise LockTimeout("address book is synced by another bridge instance")
            time.sleep(0.2)

    def _book_lock(self, book_id: int) -> threading.Lock:
        with self._books_lock:
            return self._books.setdefault(book_id, threading.Lock())

    def close(self) -> None:
        self._ownership.close()
