"""Which process or instance syncs which book, and how the others reach it.

On SQLite every process on the data directory syncs any book, one at a time (file locks).
On PostgreSQL each book has one owner among the instances sharing the store (the store's
session advisory locks); the others ask it for a push or a pull (the store's notifications)
and hear the requests made of them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from ..aurinko import AurinkoClient
from ..store import BookOwnership, Database, notify, shared_store
from .locks import BookLocks, FileLocks, OwnerLocks
from .runner import BookRunner, Job

log = logging.getLogger("bridge.sync")


class Instances:
    """Runs of a book are asked here: run by ``runner`` if this instance owns the book,
    else handed to the instance that does. ``clients`` are the books this one serves."""

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        clients: Mapping[int, AurinkoClient],
        runner: BookRunner,
    ) -> None:
        self._db = db
        self._clients = clients
        self._runner = runner
        self.locks, self._listener = self._sharing(data_dir)

    def _sharing(self, data_dir: Path) -> tuple[BookLocks, notify.Listener | None]:
        """How this engine shares books with other processes: on SQLite, file locks (each
        process syncs any book, one at a time); on PostgreSQL, one owner per book among the
        instances, which hear each other's requests."""
        shared = shared_store(self._db)
        if shared is None:
            return FileLocks(data_dir), None
        listener = notify.Listener(shared.connect, self._asked)
        return OwnerLocks(BookOwnership(shared.connect)), listener

    def owns(self, book_id: int) -> bool:
        return self.locks.try_own(book_id)

    def owned(self) -> set[int] | None:
        """The books this instance syncs on PostgreSQL; None on SQLite, where every
        process syncs any book."""
        return self.locks.owned() if isinstance(self.locks, OwnerLocks) else None

    def synced_elsewhere(self, book_id: int) -> bool:
        """Whether another instance sharing the store owns the book (then it is asked to
        push and pull it now): a sync from here would only wait for it."""
        if book_id not in self._clients or self.owns(book_id):
            return False
        self.ask_owner(book_id, Job.PUSH | Job.PULL)
        return True

    def ask(self, book_id: int, job: Job) -> int | None:
        """Ask for a run of the book: here if this instance owns it (the runner's ticket),
        else at the instance that does (None)."""
        if self.owns(book_id):
            return self._runner.ask(book_id, job)
        self.ask_owner(book_id, job)
        return None

    def ask_owner(self, book_id: int, job: Job) -> None:
        """Hand a push or pull to the instance that owns the book (PostgreSQL only: on
        SQLite every process owns every book)."""
        try:
            notify.ask(self._db, book_id, job.value)
        except Exception as exc:  # the owner's own loop gets to it anyway
            log.warning("could not ask the owner of book %d to sync: %s", book_id, exc)

    def _asked(self, book_id: int, job: int) -> None:
        """Another instance asks for a run of a book this one owns."""
        if book_id in self._clients and self.owns(book_id):
            self._runner.ask(book_id, Job(job))

    def start(self) -> None:
        """Hear the other instances' requests (PostgreSQL), until ``stop``."""
        if self._listener is not None:
            self._listener.start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()

    def close(self) -> None:
        self.stop()
        self.locks.close()
