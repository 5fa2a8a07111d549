"""One sync at a time per address book, across threads and processes."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..private import private_dir


class LockTimeout(TimeoutError):
    """Another thread or process holds the book's sync lock."""


class BookLocks:
    """``flock`` on one file per book under ``<data_dir>/locks``.

    flock belongs to an open file description, so two threads of one process exclude each
    other as two processes do (the server and a folder watcher on one data directory).
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.root = private_dir(Path(data_dir) / "locks")

    @contextmanager
    def hold(self, book_id: int, timeout: float | None = None) -> Iterator[None]:
        """Hold the lock; wait at most ``timeout`` seconds (None: as long as it takes)."""
        fd = os.open(self.root / f"book-{book_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._acquire(fd, timeout)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @staticmethod
    def _acquire(fd: int, timeout: float | None) -> None:
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
