"""``SyncEngine``: the one door through which CardDAV, the folder watcher and the CLI
change contacts, and the loop that keeps the store and Aurinko in step.

It is a facade over three parts, one role each: the write door (``writes.py``), when books
are pulled and pushed (``scheduler.py``), and which instance syncs which book
(``instances.py``); what stays here is a sync of one book itself (push, pull, both)."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping
from pathlib import Path

from .. import logs
from ..aurinko import AurinkoClient, AurinkoError
from ..mapping import ParsedCard, to_vcard
from ..store import Book, ContactRow, ContactStore, Outbox, StoreLocation, open_database
from ..store.kinds import BookKind
from .conflicts import ConflictKeeper, Keep
from .context import SyncContext
from .instances import Instances
from .locks import BookLocks
from .options import OUTBOX_RETRY, EngineOptions
from .pull import Progress, Puller
from .push import Pusher
from .reports import SkippedWrite, SyncError, SyncReport
from .runner import BookRunner, Job
from .scheduler import Scheduler
from .writes import ContactNotFoundError, UidConflictError, Writes

__all__ = [
    "OUTBOX_RETRY",
    "ContactNotFoundError",
    "EngineOptions",
    "SyncEngine",
    "UidConflictError",
]

log = logging.getLogger("bridge.sync")


class SyncEngine:
    """Local writes go to the store and the outbox in one transaction, then are pushed;
    pulls bring Aurinko's changes in. Safe for many threads and for a second process on
    the same data directory."""

    def __init__(
        self,
        data_dir: str | Path,
        clients: Mapping[int, AurinkoClient] | None = None,
        options: EngineOptions | None = None,
        *,
        store: StoreLocation | None = None,
    ) -> None:
        """The engine over ``data_dir`` (locks, kept conflicts) and its store: SQLite in
        ``data_dir``, or the PostgreSQL store ``store`` (``config.store``). Raises
        StoreError, ConfigError (an unreadable password) or SchemaTooNewError."""
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = open_database(self.data_dir, store)
        self.store = ContactStore(self.db)
        self.outbox = Outbox(self.db)
        self.options = options or EngineOptions()
        self.keeper = ConflictKeeper(self.outbox, self.data_dir)
        self.clients: dict[int, AurinkoClient] = dict(clients or {})
        self.runner = BookRunner(self._run_job)
        self.instances = Instances(self.db, self.data_dir, self.clients, self.runner)
        self.scheduler = Scheduler(self)
        self.writes = Writes(
            self.db,
            self.store,
            self.outbox,
            self.keeper,
            self.clients,
            self.runner,
            self.scheduler.push_soon,
        )

    @property
    def locks(self) -> BookLocks:
        """One sync at a time per book, and which books this instance syncs."""
        return self.instances.locks

    @locks.setter
    def locks(self, locks: BookLocks) -> None:
        self.instances.locks = locks

    # -- books ----------------------------------------------------------------------------

    def attach(
        self, owner: str, name: str, client: AurinkoClient, vcard_version: str = "3.0"
    ) -> Book:
        """The Aurinko-backed book ``owner/name``, served from ``client``'s account."""
        book = self.store.ensure_book(owner, name, BookKind.AURINKO, vcard_version=vcard_version)
        self.clients[book.id] = client
        return book

    def book(self, owner: str, name: str) -> Book | None:
        return self.store.get_book(owner, name)

    def books(self, owner: str) -> list[Book]:
        return self.store.list_books(owner)

    def create_local_book(self, owner: str, name: str, props: Mapping[str, str]) -> Book:
        """A plain address book that lives only in the store. Raises BookExistsError."""
        return self.store.create_book(owner, name, BookKind.LOCAL, dict(props))

    def delete_local_book(self, book: Book) -> None:
        if book.kind != BookKind.LOCAL:
            raise ValueError(f"{book.path} is backed by an Aurinko account and cannot be deleted")
        self.store.delete_book(book.id)

    # -- reads ----------------------------------------------------------------------------

    def render(self, book: Book, href: str, version: str) -> str | None:
        """The card at ``href`` in ``version``: the stored text when it is the card's own
        version, else converted (each card is stored in the version it was written in)."""
        row = self.store.get(book.id, href)
        if row is None:
            return None
        if version == row.version:
            return row.vcard
        return to_vcard(row.contact, version, shadow=row.shadow, uid=row.uid)

    def changes_since(self, book: Book, seq: int) -> tuple[int, list[str]]:
        return self.store.changes_since(book.id, seq)

    def pull_if_stale(self, book: Book, max_age: float, wait: float = 0.0) -> None:
        """A throttled freshness pull for read paths: one book (see ``refresh``)."""
        self.scheduler.refresh([book], max_age, wait)

    def refresh(self, books: list[Book], max_age: float, wait: float) -> None:
        self.scheduler.refresh(books, max_age, wait)

    def notified(self, book: Book) -> None:
        self.scheduler.notified(book)

    def unreachable(self, book: Book) -> bool:
        return self.scheduler.unreachable(book)

    # -- local writes (writes.py) ---------------------------------------------------------

    def put(
        self,
        book: Book,
        href: str,
        text: str | bytes | ParsedCard,
        *,
        push: bool = True,
        uid: str | None = None,
    ) -> ContactRow:
        return self.writes.put(book, href, text, push=push, uid=uid)

    def delete(self, book: Book, href: str, *, push: bool = True) -> None:
        self.writes.delete(book, href, push=push)

    def retry_parked(self, book: Book, op_id: int) -> bool:
        return self.writes.retry_parked(book, op_id)

    def drop_parked(self, book: Book, op_id: int) -> bool:
        return self.writes.drop_parked(book, op_id)

    def resolve_conflict(self, book: Book, conflict_id: int, keep: Keep | Collection[str]) -> None:
        self.writes.resolve_conflict(book, conflict_id, keep)

    # -- sync -----------------------------------------------------------------------------

    def push(self, book: Book, *, lock_timeout: float | None = None) -> SyncReport:
        report = SyncReport(book.path)
        with self.locks.hold(book.id, lock_timeout):
            self._push_locked(book, report)
        return report

    def pull(self, book: Book, *, progress: Progress | None = None) -> SyncReport:
        report = SyncReport(book.path)
        with self.locks.hold(book.id):
            self._pull_locked(book, report, progress)
        return report

    def sync(self, book: Book, *, progress: Progress | None = None) -> SyncReport:
        """Push what waits, pull what changed, and push what the pull unblocked."""
        report = SyncReport(book.path)
        with self.locks.hold(book.id):
            self._push_locked(book, report)
            if report.error is None:
                self._pull_locked(book, report, progress)
            if report.error is None:
                self._push_locked(book, report)
        return report

    def _run_job(self, book_id: int, job: Job, since: float) -> None:
        """A run the runner does for requests (a write's push, a stale read's pull)."""
        book = self.store.book_by_id(book_id)
        report = SyncReport(book.path)
        with logs.scope(user=book.owner, book=book.name), self.locks.hold(book.id):
            if Job.PUSH in job:
                self._push_locked(book, report)
            if Job.PULL in job and self.scheduler.pulled_before(book_id, since):
                self._pull_locked(book, report, None)  # no pull ended since it was asked for
        if report.error:
            self.scheduler.wake()  # the background loop retries when the account allows

    def _push_locked(self, book: Book, report: SyncReport, href: str | None = None) -> None:
        """Push the outbox (or one contact's part of it); creates that may already exist
        upstream are looked for first."""
        self.outbox.release_claims(book.id)
        if self.outbox.uncertain_creates(book.id):
            self._pull_locked(book, report, None)
            if report.error is not None:
                return
            for op in self.outbox.clear_uncertain(book.id, self.options.retry.max_attempts):
                report.skipped.append(SkippedWrite(op.op, op.href, str(op.last_error), op.id))
        self._pusher(book).push(self.store.book_by_id(book.id), report, href)

    def _pull_locked(self, book: Book, report: SyncReport, progress: Progress | None) -> None:
        # A create claimed by a pusher that died may be upstream already: the pull must
        # link it, not list it as a new contact.
        self.outbox.release_claims(book.id)
        # The pull covers what changed before it began: a request (a webhook's, say) made
        # while it ran is not covered by it, and ``pulled_before`` must say so.
        started = time.time()
        puller = Puller(self._context(book), progress)
        try:
            puller.pull(self.store.book_by_id(book.id), report)
        except AurinkoError as exc:
            report.error = SyncError.of(exc)
            log.warning("%s: pull stopped: %s", book.path, exc)
            return
        self.store.mark_pulled(book.id, started)

    def _pusher(self, book: Book) -> Pusher:
        return Pusher(self._context(book))

    def _context(self, book: Book) -> SyncContext:
        client = self.clients.get(book.id)
        if client is None:
            raise ValueError(f"{book.path} is not backed by an Aurinko account")
        return SyncContext(
            self.store, self.outbox, client, self.keeper, self.options.policy, self.options.retry
        )

    # -- instances sharing a store, background loop (instances.py, scheduler.py) ------------

    def synced_elsewhere(self, book: Book) -> bool:
        """Whether another instance sharing the store owns the book (then it is asked to
        push and pull it now): a sync from here would only wait for it."""
        return self.instances.synced_elsewhere(book.id)

    def start(self, interval: float) -> None:
        """Sync every attached book every ``interval`` seconds until ``stop()``, and hear
        the other instances' requests meanwhile."""
        if self.scheduler.running:
            return
        self.instances.start()
        self.scheduler.start(interval)

    def stop(self) -> None:
        self.scheduler.stop()
        self.instances.stop()

    def close(self) -> None:
        self.stop()
        self.runner.close()
        self.instances.close()
        self.db.close()
