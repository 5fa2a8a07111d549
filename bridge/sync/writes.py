"""The write door: how CardDAV, the folder and the CLI change contacts. A write goes to
the store and the outbox in one transaction, then is pushed (``push_soon``); so do the
choices a user makes about a parked write or a kept conflict."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping

from ..aurinko import AurinkoClient
from ..mapping import ParsedCard, diff, from_vcard, to_vcard
from ..store import Book, Conflict, ContactRow, ContactStore, Database, Outbox
from ..store.kinds import BookKind, WriteOp
from .cards import local_row
from .conflicts import (
    ConflictGoneError,
    ConflictKeeper,
    Keep,
    losing_card,
    losing_contact,
    taking,
)
from .runner import BookRunner, Job

PushSoon = Callable[[Book, str], bool]  # (book, href) -> whether the push ran meanwhile


class ContactNotFoundError(KeyError):
    """No contact at that href."""


class UidConflictError(ValueError):
    """Another contact of the book already has this UID (one card per UID per book)."""

    def __init__(self, uid: str, href: str) -> None:
        super().__init__(f"UID {uid!r} is already used by {href}")
        self.uid = uid
        self.href = href


class Writes:
    def __init__(
        self,
        db: Database,
        store: ContactStore,
        outbox: Outbox,
        keeper: ConflictKeeper,
        clients: Mapping[int, AurinkoClient],
        runner: BookRunner,
        push_soon: PushSoon,
    ) -> None:
        self._db = db
        self._store = store
        self._outbox = outbox
        self._keeper = keeper
        self._clients = clients
        self._runner = runner
        self._push_soon = push_soon

    def put(
        self,
        book: Book,
        href: str,
        text: str | bytes | ParsedCard,
        *,
        push: bool = True,
        uid: str | None = None,
    ) -> ContactRow:
        """Create or replace the card at ``href`` from a client's text, or from the card
        already parsed from it (a CardDAV PUT's, read once per request).

        Raises MappingError for an invalid card and UidConflictError for a second card with
        one UID. Returns the row exactly as it will be served (its etag is final unless
        Aurinko is unreachable and changes it when the write reaches it later). With
        ``push=False`` the write waits in the outbox for the next push (bulk imports).
        ``uid`` names a card that has none (the stored card then carries it).
        """
        parsed = text if isinstance(text, ParsedCard) else from_vcard(text)
        uid = parsed.uid or uid or str(uuid.uuid4())
        with self._db.transaction(book.id):
            existing = self._store.get(book.id, href)
            self._check_uid(book, href, uid, existing)
            row = local_row(book, href, uid, parsed, existing)
            self._store.save(row)
            if book.kind == BookKind.AURINKO:
                self._enqueue_write(book, row, existing)
        if push and self._push_soon(book, href):
            return self._store.get(book.id, href) or row  # as Aurinko confirmed it
        return row

    def _check_uid(self, book: Book, href: str, uid: str, existing: ContactRow | None) -> None:
        if existing is not None and existing.uid != uid:
            raise UidConflictError(uid, href)
        holder = self._store.href_of_uid(book.id, uid)
        if holder is not None and holder != href:
            raise UidConflictError(uid, holder)

    def _enqueue_write(self, book: Book, row: ContactRow, existing: ContactRow | None) -> None:
        if existing is None or existing.remote_id is None:
            self._outbox.enqueue(book.id, row.href, WriteOp.CREATE, local_json=row.contact)
            return
        self._outbox.enqueue(
            book.id,
            row.href,
            WriteOp.UPDATE,
            remote_id=existing.remote_id,
            base_etag=existing.remote_etag,
            base_json=existing.remote_json,
            local_json=row.contact,
        )

    def delete(self, book: Book, href: str, *, push: bool = True) -> None:
        with self._db.transaction(book.id):
            row = self._store.get(book.id, href)
            if row is None:
                raise ContactNotFoundError(href)
            self._store.delete(book.id, href)
            if book.kind == BookKind.AURINKO:
                self._outbox.enqueue(book.id, href, WriteOp.DELETE, remote_id=row.remote_id)
        if push:
            self._push_soon(book, href)

    # -- what a user settles by hand ------------------------------------------------

    def retry_parked(self, book: Book, op_id: int) -> bool:
        """Send a write Aurinko refused again, now; False if ``book`` has no such parked
        write (another book's, or settled meanwhile)."""
        op = self._outbox.get(op_id)
        if op is None or op.book_id != book.id or not op.failed:
            return False
        self._outbox.retry(op_id)
        if book.id in self._clients:
            self._runner.ask(book.id, Job.PUSH)
        return True

    def drop_parked(self, book: Book, op_id: int) -> bool:
        """Give up a write Aurinko refused (the card keeps its version here); False if
        ``book`` has no such parked write."""
        op = self._outbox.get(op_id)
        if op is None or op.book_id != book.id or not op.failed:
            return False
        self._outbox.drop(op_id)
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
        conflict = self._keeper.open_conflict(book, conflict_id)
        take = [] if keep is Keep.CURRENT else conflict.fields if keep is Keep.OTHER else list(keep)
        current = self._store.get(book.id, conflict.href)
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
        self._keeper.settle(conflict)

    def _write_back_losing_card(
        self, book: Book, conflict: Conflict, current: ContactRow | None
    ) -> None:
        version = current.version if current else book.vcard_version
        text = losing_card(conflict, version, current.uid if current else None)
        if text is None:
            raise ConflictGoneError(f"conflict #{conflict.id} kept no losing version")
        self.put(book, conflict.href, text, uid=current.uid if current else None)
