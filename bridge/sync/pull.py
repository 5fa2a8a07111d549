"""Pull: Aurinko's delta tokens -> pages -> store, each page in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace

from ..aurinko import (
    AurinkoError,
    BadRequestError,
    DeletedPage,
    DeletedRecord,
    NotFoundError,
    ProtocolError,
    TokenExpiredError,
    UpdatedPage,
)
from ..mapping import MappingError
from ..store import Book, ContactRow
from ..store.kinds import ConflictOutcome, WriteOp
from ..store.rows import Json
from .cards import linked_to, remote_row
from .context import SyncContext
from .decide_pull import DeletionAction, RecordAction, lost_create, plan_deletion, plan_record
from .fields import Contact
from .reports import SkippedRecord, SyncConflict, SyncReport

log = logging.getLogger("bridge.sync")

Progress = Callable[[int], None]


class Puller:
    """Loads remote changes into one book.

    Delta tokens are saved in the transaction of the last page they cover, so a crash at
    any point replays from the previous token; applying a record is idempotent (keyed by
    remote id, skipped when its etag is the one we hold), so a replay duplicates nothing.
    """

    def __init__(self, ctx: SyncContext, progress: Progress | None = None) -> None:
        self.ctx = ctx
        self.store, self.outbox, self.client = ctx.store, ctx.outbox, ctx.client
        self.keeper, self.policy = ctx.keeper, ctx.policy
        self.progress = progress

    def pull(self, book: Book, report: SyncReport) -> None:
        if book.resync_running or book.updated_token is None or book.deleted_token is None:
            self._full(book, report)
            return
        try:
            self._incremental(book, report)
        except TokenExpiredError as exc:
            log.info("%s: delta token refused (%s); full resync", book.path, exc.code)
            self._full(self.store.book_by_id(book.id), report)
        except (BadRequestError, ProtocolError) as exc:
            # An answer we cannot follow would fail every later run the same way; a full
            # resync (one per run) reconciles by remote id and starts a fresh token chain.
            log.warning("%s: incremental sync not understood (%s); full resync", book.path, exc)
            self._full(self.store.book_by_id(book.id), report)

    # -- incremental ----------------------------------------------------------------

    def _incremental(self, book: Book, report: SyncReport) -> None:
        """A delta token is saved only from a run's last page (the one without a page
        token), as the vendor's client does: one from an earlier page would let an
        interrupted run skip the rest of its changes for good."""
        assert book.updated_token and book.deleted_token
        for page in self.client.iter_updated(book.updated_token):
            records, unfetched = self._with_photos(book, page.records)
            with self.store.db.transaction(book.id):
                self._apply_records(book, records, report, unfetched)
                if page.next_page_token is None:
                    self.store.set_updated_token(book.id, _final_token(page, "updated"))
        for dpage in self.client.iter_deleted(book.deleted_token):
            with self.store.db.transaction(book.id):
                self._apply_deletions(book, dpage.records, report)
                if dpage.next_page_token is None:
                    self.store.set_deleted_token(book.id, _final_token(dpage, "deleted"))

    # -- full resync ----------------------------------------------------------------

    def _full(self, book: Book, report: SyncReport) -> None:
        """List everything again and reconcile by remote id: no duplicates, deletions kept."""
        report.full_resync = True
        generation = self.store.begin_resync(book.id)
        resume = self.store.book_by_id(book.id).resync_resume
        try:
            updated_token, deleted_start = self._list_all(book, generation, resume, report)
        except TokenExpiredError:
            if resume is None:
                raise
            log.info("%s: the listing's page token expired; listing from the start", book.path)
            updated_token, deleted_start = self._list_all(book, generation, None, report)
        deleted_token = None
        deleted: list[DeletedRecord] = []
        for dpage in self.client.iter_deleted(deleted_start):
            deleted.extend(dpage.records)
            deleted_token = dpage.next_delta_token if dpage.next_page_token is None else None
        if updated_token is None or deleted_token is None:  # the next run starts over
            log.warning("%s: a sync run ended without its delta token", book.path)
            updated_token = deleted_token = None
        with self.store.db.transaction(book.id):
            self._apply_deletions(book, deleted, report)
            for row in self.store.unseen_since(book.id, generation):
                self._remote_deleted(book, row, report)
            self.store.set_tokens(book.id, updated_token, deleted_token)
            self.store.finish_resync(book.id)

    def _list_all(
        self, book: Book, generation: int, resume: Json | None, report: SyncReport
    ) -> tuple[str | None, str]:
        """Every contact, page by page, each page applied with the point to resume from, so
        an interrupted listing (a rate limit, a crash) goes on from there, not page 1.
        Returns the next delta token (None if the last page had none) and the start of the
        deleted chain."""
        if resume is not None:
            deleted_start = str(resume["deleted"])
            pages = self.client.iter_updated(None, page_token=str(resume["page"]))
        else:
            start = self.client.start_sync()
            deleted_start = start.deleted_token
            pages = self.client.iter_updated(start.updated_token)
        updated_token = None
        for page in pages:
            records, unfetched = self._with_photos(book, page.records)
            with self.store.db.transaction(book.id):
                self._apply_records(book, records, report, unfetched)
                self.store.mark_seen(book.id, (str(r["id"]) for r in records), generation)
                after = page.next_page_token
                point = {"page": after, "deleted": deleted_start} if after else None
                self.store.set_resync_resume(book.id, point)
            updated_token = page.next_delta_token if page.next_page_token is None else None
        return updated_token, deleted_start

    # -- applying records -----------------------------------------------------------

    def _with_photos(
        self, book: Book, records: Iterable[Contact]
    ) -> tuple[list[Contact], set[str]]:
        """Sync pages carry only ``hasPhoto``; fetch the image before any transaction, and
        only for contacts that changed (a first sync that restarts must not fetch every
        photo again). A photo that cannot be fetched leaves its contact to be fetched again
        on the next run, served meanwhile with the photo it had: returned with the ids of
        those contacts."""
        out: list[Contact] = []
        unfetched: set[str] = set()
        for record in records:
            if self._needs_photo(book, record):
                try:
                    record = self.client.get(str(record["id"]), with_photo=True)
                except NotFoundError:
                    pass  # deleted since the page was cut; its deletion follows
                except AurinkoError as exc:
                    log.info("%s: photo of %s not fetched (%s)", book.path, record["id"], exc)
                    unfetched.add(str(record["id"]))
            out.append(record)
        return out, unfetched

    def _needs_photo(self, book: Book, record: Contact) -> bool:
        if not record.get("hasPhoto") or (record.get("photo") or {}).get("content"):
            return False
        known = self.store.get_by_remote_id(book.id, str(record.get("id")))
        return known is None or known.remote_etag != record.get("etag")

    def _apply_records(
        self,
        book: Book,
        records: list[Contact],
        report: SyncReport,
        unfetched: set[str],
    ) -> None:
        for record in records:
            if not isinstance(record.get("id"), str):
                report.skipped.append(SkippedRecord(None))
                continue
            try:
                self._apply_record(book, record, report, record["id"] in unfetched)
            except MappingError as exc:
                log.warning("%s: skipping remote contact %s: %s", book.path, record["id"], exc)
                report.skipped.append(SkippedRecord(record["id"], str(exc)))
        if self.progress:
            self.progress(len(records))

    def _apply_record(
        self, book: Book, record: Contact, report: SyncReport, photo_unfetched: bool
    ) -> None:
        remote_id = str(record["id"])
        existing = self.store.get_by_remote_id(book.id, remote_id)
        if existing is None:
            existing = self._claim_lost_create(book, record)
        action = plan_record(
            existing,
            record.get("etag"),
            deleting_here=lambda: self.outbox.deleting(book.id, remote_id),
            pending_here=lambda: bool(existing and self.outbox.pending_for(book.id, existing.href)),
        )
        if action not in (RecordAction.INSERT, RecordAction.UPDATE):
            report.unchanged += 1
            return
        row = remote_row(book, record, existing)
        if photo_unfetched:  # not the etag: the next run sees a change and fetches the photo
            row = replace(row, remote_etag=None)
        changed = self.store.save(row)
        if action is RecordAction.INSERT:
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1

    def _claim_lost_create(self, book: Book, record: Contact) -> ContactRow | None:
        """A POST whose answer was lost shows up here: link it instead of duplicating it."""
        op = lost_create(record, self.outbox.uncertain_creates(book.id))
        if op is None:
            return None
        log.info("%s: lost create of %s found upstream as %s", book.path, op.href, record["id"])
        self.outbox.done(op, record["id"], record.get("etag"))
        row = self.store.get(book.id, op.href)
        if row is None:
            return None
        linked = linked_to(row, record)
        self.store.save(linked)
        return linked

    def _apply_deletions(
        self, book: Book, records: Iterable[DeletedRecord], report: SyncReport
    ) -> None:
        for record in records:
            row = self.store.get_by_remote_id(book.id, record.id)
            if row is not None:
                self._remote_deleted(book, row, report)

    def _remote_deleted(self, book: Book, row: ContactRow, report: SyncReport) -> None:
        pending = self.outbox.pending_for(book.id, row.href)
        action = plan_deletion([op.op for op in pending], self.policy)
        for op in pending:
            self.outbox.drop(op.id)
        if action is DeletionAction.RECREATE:
            # Deleted upstream, edited here: the local edit wins and comes back as new.
            self.outbox.enqueue(book.id, row.href, WriteOp.CREATE, local_json=row.contact)
            self.store.save(replace(row, remote_id=None, remote_etag=None, remote_json=None))
            return
        if action is DeletionAction.DELETE_KEEPING_EDIT:
            where = self.keeper.keep(
                book, row.href, ConflictOutcome.DELETED_REMOTELY, [], row.contact, row.vcard
            )
            report.conflicts.append(
                SyncConflict(row.href, ConflictOutcome.DELETED_REMOTELY, (), where)
            )
        self.store.delete(book.id, row.href)
        report.deleted += 1


def _final_token(page: UpdatedPage | DeletedPage, chain: str) -> str:
    if page.next_delta_token is None:
        raise ProtocolError(f"sync/{chain}: the last page carries no nextDeltaToken")
    return page.next_delta_token
