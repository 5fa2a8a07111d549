"""Readers-writer locks, one per address book: Radicale's "r" requests share a book's lock,
"w" requests own it, and a request on one book never waits for another book's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RWLock:
    """Writers get priority once waiting, so a stream of reads cannot starve a PUT."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def hold(self, exclusive: bool) -> Iterator[None]:
        if exclusive:
            self._acquire_write()
        else:
            self._acquire_read()
        try:
            yield
        finally:
            self._release(exclusive)

    def _acquire_read(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: not self._writer and not self._waiting_writers)
            self._readers += 1

    def _acquire_write(self) -> None:
        with self._cond:
            self._waiting_writers += 1
            self._cond.wait_for(lambda: not self._writer and not self._readers)
            self._waiting_writers -= 1
            self._writer = True

    def _release(self, exclusive: bool) -> None:
        with self._cond:
            if exclusive:
                self._writer = False
            else:
                self._readers -= 1
            self._cond.notify_all()


class KeyedRWLocks:
    """One RWLock per key (a book's ``user/book`` path), made on first use and dropped
    when nobody holds or waits for it, so the table stays as small as the traffic."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[RWLock, int]] = {}

    @contextmanager
    def hold(self, key: str, exclusive: bool) -> Iterator[None]:
        lock = self._enter(key)
        try:
            with lock.hold(exclusive):
                yield
        finally:
            self._leave(key)

    def _enter(self, key: str) -> RWLock:
        with self._guard:
            lock, users = self._locks.get(key) or (RWLock(), 0)
            self._locks[key] = (lock, users + 1)
            return lock

    def _leave(self, key: str) -> None:
        with self._guard:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)
