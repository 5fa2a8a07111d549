"""``SyncEngine``: the one door through which CardDAV, the folder watcher and the CLI
change contacts, and the loop that keeps the store and Aurinko in step."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..aurinko import AurinkoClient, AurinkoError, RetryPolicy
from ..mapping import diff, from_vcard, to_vcard
from ..store import (
    Book,
    BookOwnership,
    Conflict,
    ContactRow,
    ContactStore,
    Outbox,
    StoreLocation,
    notify,
    open_database,
    shared_store,
)
from .cards import local_row
from .conflicts import (
    ConflictGoneError,
    ConflictKeeper,
    Keep,
    losing_card,
    losing_contact,
    taking,
)
from .context import SyncContext
from .locks import BookLocks, FileLocks, OwnerLocks
from .merge import ConflictPolicy
from .pull import Progress, Puller
from .push import Pusher
from .reports import SyncReport
from .runner import BookRunner, Job

log = logging.getLogger("bridge.sync")


class ContactNotFoundError(KeyError):
    """No contact at that href."""


class UidConflictError(ValueError):
    """Another contact of the book already has this UID (one card per UID per book)."""

    def __init__(self, uid: str, href: str) -> None:
        super().__init__(f"UID {uid!r} is already used by {href}")
        self.uid = uid
        self.href = href


OUTBOX_RETRY = RetryPolicy(max_attempts=8, base_delay=10.0, max_delay=3600.0)


@dataclass(frozen=True)
class EngineOptions:
    policy: ConflictPolicy = ConflictPolicy.REMOTE_WINS
    # How long a read of a stale book waits for the pull it asked for; after that it
    # serves the store as it is, and the pull goes on in the background.
    request_wait: float = 2.0
    # How long a write waits for Aurinko to confirm it. 0 (the default) is write-behind:
    # a write answers once the store and the outbox hold it, and the push goes on in the
    # background; Aurinko is hundreds of milliseconds away, a store write is not.
    write_wait: float = 0.0
    # Outbox left after a failed push is tried again this often at the least (or when the
    # account's breaker lets calls out again, if later).
    retry_pending: float = 5.0
    # One write that Aurinko keeps failing (a 500 for that contact) waits on its own,
    # doubling from base_delay, and is parked after max_attempts; the others go on.
    retry: RetryPolicy = OUTBOX_RETRY
    # An instance that sees a book owned by another checks this often whether that one is
    # gone (its books are free then), so a dead instance's books are taken over this fast.
    takeover_check: float = 2.0


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
        self.locks, self._listener = self._sharing()
        self.clients: dict[int, AurinkoClient] = dict(clients or {})
        self.runner = BookRunner(self._run_job)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._loop: threading.Thread | None = None

    def _sharing(self) -> tuple[BookLocks, notify.Listener | None]:
        """How this engine shares books with other processes: on SQLite, file locks (each
        process syncs any book, one at a time); on PostgreSQL, one owner per book among the
        instances, which hear each other's requests."""
        shared = shared_store(self.db)
        if shared is None:
            return FileLocks(self.data_dir), None
        listener = notify.Listener(shared.connect, self._asked)
        return OwnerLocks(BookOwnership(shared.connect)), listener

    def attach(
        self, owner: str, name: str, client: AurinkoClient, vcard_version: str = "3.0"
    ) -> Book:
        """The Aurinko-backed book ``owner/name``, served from ``client``'s account."""
        book = self.store.ensure_book(owner, name, "aurinko", vcard_version=vcard_version)
        self.clients[book.id] = client
        return book

    def book(self, owner: str, name: str) -> Book | None:
        return self.store.get_book(owner, name)

    def books(self, owner: str) -> list[Book]:
        return self.store.list_books(owner)

    def create_local_book(self, owner: str, name: str, props: Mapping[str, str]) -> Book:
        """A plain address book that lives only in the store. Raises BookExistsError."""
        return self.store.create_book(owner, name, "local", dict(props))

    def delete_local_book(self, book: Book) -> None:
        if book.kind != "local":
            raise ValueError(f"{book.path} is backed by an Aurinko account and cannot be deleted")
        self.store.delete_book(book.id)

    def render(self, book: Book, href: str, version: str) -> str | None:
        """The card at ``href`` in ``version``: the stored text when it is the card's own
        version, else converted (each card is stored in the version it was written in)."""
        row = self.store.get(book.id, href)
        if row is None:
            return None
        if version == row.version:
            return row.vcard
        return to_vcard(row.contact, version, shadow=row.shadow, uid=row.uid)

    # -- local writes -----------------------------------------------------------------

    def put(
        self,
        book: Book,
        href: str,
        text: str | bytes,
        *,
        push: bool = True,
        uid: str | None = None,
    ) -> ContactRow:
        """Create or replace the card at ``href`` from a client's text.

        Raises MappingError for an invalid card and UidConflictError for a second card with
        one UID. Returns the row exactly as it will be served (its etag is final unless
        Aurinko is unreachable and changes it when the write reaches it later). With
        ``push=False`` the write waits in the outbox for the next push (bulk imports).
        ``uid`` names a card that has none (the stored card then carries it).
        """
        parsed = from_vcard(text)
        uid = parsed.uid or uid or str(uuid.uuid4())
        with self.db.transaction(book.id):
            existing = self.store.get(book.id, href)
            self._check_uid(book, href, uid, existing)
            row = local_row(book, href, uid, parsed, existing)
            self.store.save(row)
            if book.kind == "aurinko":
                self._enqueue_write(book, row, existing)
        if push and self._push_soon(book, href):
            return self.store.get(book.id, href) or row  # as Aurinko confirmed it
        return row

    def _check_uid(self, book: Book, href: str, uid: str, existing: ContactRow | None) -> None:
        if existing is not None and existing.uid != uid:
            raise UidConflictError(uid, href)
        holder = self.store.href_of_uid(book.id, uid)
        if holder is not None and holder != href:
            raise UidConflictError(uid, holder)

    def _enqueue_write(self, book: Book, row: ContactRow, existing: ContactRow | None) -> None:
        if existing is None or existing.remote_id is None:
            self.outbox.enqueue(book.id, row.href, "create", local_json=row.contact)
            return
        self.outbox.enqueue(
            book.id,
            row.href,
            "update",
            remote_id=existing.remote_id,
            base_etag=existing.remote_etag,
            base_json=existing.remote_json,
            local_json=row.contact,
        )

    def delete(self, book: Book, href: str, *, push: bool = True) -> None:
        with self.db.transaction(book.id):
            row = self.store.get(book.id, href)
            if row is None:
                raise ContactNotFoundError(href)
            self.store.delete(book.id, href)
            if book.kind == "aurinko":
                self.outbox.enqueue(book.id, href, "delete", remote_id=row.remote_id)
        if push:
            self._push_soon(book, href)

    def _push_soon(self, book: Book, href: str) -> bool:
        """Push the book's outbox in the background; wait ``write_wait`` for it only when
        so configured (the write is in the store and the outbox already: it never fails
        over this). True if the push ran meanwhile."""
        if book.id not in self.clients:
            return False
        ticket = self._ask(book.id, Job.PUSH)
        wait = self.options.write_wait
        if ticket is None or wait <= 0:  # write-behind, or another instance pushes it
            return False
        if self._not_worth_waiting(book, wait):
            return False
        if not self.runner.wait(book.id, ticket, wait):
            log.info("%s: Aurinko is slow; %s waits in the outbox", book.path, href)
            return False
        return True

    # -- what a user settles by hand ------------------------------------------------

    def retry_parked(self, book: Book, op_id: int) -> bool:
        """Send a write Aurinko refused again, now; False if ``book`` has no such parked
        write (another book's, or settled meanwhile)."""
        op = self.outbox.get(op_id)
        if op is None or op.book_id != book.id or not op.failed:
            return False
        self.outbox.retry(op_id)
        if book.id in self.clients:
            self.runner.ask(book.id, Job.PUSH)
        return True

    def drop_parked(self, book: Book, op_id: int) -> bool:
        """Give up a write Aurinko refused (the card keeps its version here); False if
        ``book`` has no such parked write."""
        op = self.outbox.get(op_id)
        if op is None or op.book_id != book.id or not op.failed:
            return False
        self.outbox.drop(op_id)
        return True

    def resolve_conflict(self, book: Book, conflict_id: int, keep: Keep | Collection[str]) -> None:
        """Settle a kept conflict. ``Keep.CURRENT`` keeps what the book serves;
        ``Keep.OTHER`` takes the losing version's value of every conflicting field; a
        collection of dotted paths (``nickName``, ``name.givenName``) takes the losing
        version's value of just those. Every other field keeps what the book serves now
        (the merge of both sides' edits): a choice never undoes a change outside the
        conflict. A change goes to Aurinko as a local write (like a client's PUT).
        Raises ConflictGoneError for a conflict that is not open in ``book``, and
        MappingError or UidConflictError if the card cannot be written."""
        conflict = self.keeper.open_conflict(book, conflict_id)
        take = [] if keep is Keep.CURRENT else conflict.fields if keep is Keep.OTHER else list(keep)
        current = self.store.get(book.id, conflict.href)
        whole = keep is Keep.OTHER and (current is None or not conflict.fields)
        if whole or (take and current is None):
            self._write_back_losing_card(book, conflict, current)
        elif take and current is not None:
            other = losing_contact(conflict)
            if other is None:
                raise ConflictGoneError(f"conflict #{conflict_id} kept no losing version")
            chosen = taking(current.contact, other, take)
            if diff(current.contact, chosen):
                text = to_vcard(chosen, current.version, shadow=current.shadow, uid=current.uid)
                self.put(book, conflict.href, text, uid=current.uid)
        self.keeper.settle(conflict)

    def _write_back_losing_card(
        self, book: Book, conflict: Conflict, current: ContactRow | None
    ) -> None:
        version = current.version if current else book.vcard_version
        text = losing_card(conflict, version, current.uid if current else None)
        if text is None:
            raise ConflictGoneError(f"conflict #{conflict.id} kept no losing version")
        self.put(book, conflict.href, text, uid=current.uid if current else None)

    def unreachable(self, book: Book) -> bool:
        """Whether the book's account was found unreachable and is being backed off."""
        client = self.clients.get(book.id)
        return client is not None and client.paused_for() > 0

    def _not_worth_waiting(self, book: Book, wait: float) -> bool:
        """Aurinko is backed off, or the book's run under way has already outlasted what
        one request waits (an earlier request waited for it in vain)."""
        stuck = self.runner.busy_for(book.id) > wait
        return stuck or self.unreachable(book)

    def _run_job(self, book_id: int, job: Job, since: float) -> None:
        book = self.store.book_by_id(book_id)
        report = SyncReport(book.path)
        with self.locks.hold(book.id):
            if Job.PUSH in job:
                self._push_locked(book, report)
            if Job.PULL in job and self._pulled_before(book_id, since):
                self._pull_locked(book, report, None)  # no pull ended since it was asked for
        if report.error:
            self._wake.set()  # the background loop retries when the account allows

    # -- sync ---------------------------------------------------------------------------

    def push(self, book: Book, *, lock_timeout: float | None = None) -> SyncReport:
        report = SyncReport(book.path)
        with self.locks.hold(book.id, lock_timeout):
            self._push_locked(book, report)
        return report

    def _push_locked(self, book: Book, report: SyncReport, href: str | None = None) -> None:
        """Push the outbox (or one contact's part of it); creates that may already exist
        upstream are looked for first."""
        self.outbox.release_claims(book.id)
        if self.outbox.uncertain_creates(book.id):
            self._pull_locked(book, report, None)
            if report.error is not None:
                return
            for op in self.outbox.clear_uncertain(book.id, self.options.retry.max_attempts):
                report.skipped.append(f"{op.op} {op.href}: {op.last_error} (outbox #{op.id})")
        self._pusher(book).push(self.store.book_by_id(book.id), report, href)

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

    def _pull_locked(self, book: Book, report: SyncReport, progress: Progress | None) -> None:
        # A create claimed by a pusher that died may be upstream already: the pull must
        # link it, not list it as a new contact.
        self.outbox.release_claims(book.id)
        # The pull covers what changed before it began: a request (a webhook's, say) made
        # while it ran is not covered by it, and ``_pulled_before`` must say so.
        started = time.time()
        puller = Puller(self._context(book), progress)
        try:
            puller.pull(self.store.book_by_id(book.id), report)
        except AurinkoError as exc:
            report.error = str(exc)
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

    # -- reads ----------------------------------------------------------------------------

    def changes_since(self, book: Book, seq: int) -> tuple[int, list[str]]:
        return self.store.changes_since(book.id, seq)

    def pull_if_stale(self, book: Book, max_age: float, wait: float = 0.0) -> None:
        """A throttled freshness pull for read paths: one book (see ``refresh``)."""
        self.refresh([book], max_age, wait)

    def refresh(self, books: list[Book], max_age: float, wait: float) -> None:
        """Pull the stale ones of ``books`` in the background, waiting at most ``wait``
        seconds in all for them; then the caller serves what the store holds. Accounts
        found unreachable are not waited for at all."""
        stale = [b for b in books if b.id in self.clients and not self._fresh(b.id, max_age)]
        # A book another instance owns is pulled there; the store is served meanwhile.
        asked = [(book, self._ask(book.id, Job.PULL)) for book in stale]
        tickets = [(book, ticket) for book, ticket in asked if ticket is not None]
        deadline = time.monotonic() + wait
        for book, ticket in tickets:
            left = deadline - time.monotonic()
            if left <= 0 or self._not_worth_waiting(book, self.options.request_wait):
                continue
            if not self.runner.wait(book.id, ticket, left):
                log.info("%s: still syncing; serving the stored state", book.path)

    def notified(self, book: Book) -> None:
        """Aurinko says the book changed (a webhook): pull it now, in the background, here
        or at the instance that owns it. Requests coalesce as any others do."""
        if book.id in self.clients:
            self._ask(book.id, Job.PULL)

    def _pulled_before(self, book_id: int, since: float) -> bool:
        last_pull = self.store.book_by_id(book_id).last_pull
        return last_pull is None or last_pull < since

    def _fresh(self, book_id: int, max_age: float) -> bool:
        last_pull = self.store.book_by_id(book_id).last_pull
        return last_pull is not None and time.time() - last_pull < max_age

    # -- background loop ---------------------------------------------------------------

    def start(self, interval: float) -> None:
        """Sync every attached book every ``interval`` seconds until ``stop()``."""
        if self._loop is not None:
            return
        self._stop.clear()
        if self._listener is not None:
            self._listener.start()
        self._loop = threading.Thread(
            target=self._run_loop, args=(interval,), name="bridge-sync", daemon=True
        )
        self._loop.start()

    def _run_loop(self, interval: float) -> None:
        while not self._stop.is_set():
            for book_id in list(self.clients):
                if self._stop.is_set():
                    break
                if not self.locks.try_own(book_id):
                    continue  # another instance's book: it syncs it
                try:
                    report = self.sync(self.store.book_by_id(book_id))
                    log.info("%s", report.summary())
                except Exception:  # the loop must outlive any one bad run
                    log.exception("background sync of book %d failed", book_id)
            self._wake.clear()
            self._wake.wait(self._next_round(interval))

    def _next_round(self, interval: float) -> float:
        """Seconds until the next round: the interval, or sooner while writes wait, or
        while another instance owns a book (to take it over soon if that one dies)."""
        waits = [interval]
        for book_id, client in list(self.clients.items()):
            if not self.locks.try_own(book_id):
                waits.append(self.options.takeover_check)
            elif self.outbox.count(book_id):
                waits.append(max(self.options.retry_pending, client.paused_for()))
        return min(waits)

    # -- instances sharing a store --------------------------------------------------

    def synced_elsewhere(self, book: Book) -> bool:
        """Whether another instance sharing the store owns the book (then it is asked to
        push and pull it now): a sync from here would only wait for it."""
        if book.id not in self.clients or self.locks.try_own(book.id):
            return False
        self._ask_owner(book.id, Job.PUSH | Job.PULL)
        return True

    def _ask(self, book_id: int, job: Job) -> int | None:
        """Ask for a run of the book: here if this instance owns it (the runner's ticket),
        else at the instance that does (None)."""
        if self.locks.try_own(book_id):
            return self.runner.ask(book_id, job)
        self._ask_owner(book_id, job)
        return None

    def _ask_owner(self, book_id: int, job: Job) -> None:
        """Hand a push or pull to the instance that owns the book (PostgreSQL only: on
        SQLite every process owns every book)."""
        try:
            notify.ask(self.db, book_id, job.value)
        except Exception as exc:  # the owner's own loop gets to it anyway
            log.warning("could not ask the owner of book %d to sync: %s", book_id, exc)

    def _asked(self, book_id: int, job: int) -> None:
        """Another instance asks for a run of a book this one owns."""
        if book_id in self.clients and self.locks.try_own(book_id):
            self.runner.ask(book_id, Job(job))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop()
        if self._loop is not None:
            self._loop.join(timeout=30)
            self._loop = None

    def close(self) -> None:
        self.stop()
        self.runner.close()
        self.locks.close()
        self.db.close()
