"""Push: the outbox -> POST / PATCH with If-Match / DELETE, oldest first."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from ..aurinko import (
    AurinkoError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
    WriteResult,
)
from ..mapping import MappingError, diff
from ..store import Book, ContactRow, OutboxOp
from ..store.kinds import ConflictOutcome, WriteOp
from ..words import count
from .cards import linked_to, remote_row
from .context import SyncContext
from .decide_pull import DeletionAction, plan_deletion
from .decide_push import (
    Failure,
    LostSide,
    RetryAction,
    SendAction,
    account_refusal,
    conflict_outcome,
    kept_removals,
    patch_fields,
    plan_failure,
    plan_retry,
    plan_send,
)
from .fields import READ_ONLY, Contact
from .merge import merge3
from .refusals import refused_field
from .removal import Removals, fallback_body, not_taken, removals, spec_body
from .reports import FieldNotTaken, NotTaken, SkippedWrite, SyncConflict, SyncError, SyncReport

log = logging.getLogger("bridge.sync")

# A 400 naming a field it refuses (refusals.py reads Graph's, Google's and plain words):
# the rest of the contact can still go up. A write giving up more fields is refused whole.
MAX_HELD_FIELDS = 3

# A contact edited upstream again and again between our GET and PATCH: give up for now
# and try on the next push rather than spin.
MAX_MERGE_ROUNDS = 3


class Outcome(enum.Enum):
    DONE = "done"  # the op reached Aurinko (or no longer needs to)
    SKIPPED = "skipped"  # refused for good; parked as failed, the rest goes on
    DEFERRED = "deferred"  # failed on its own: it waits its backoff, the rest goes on
    STOP = "stop"  # Aurinko unreachable, or the account refused: keep everything for later


class Pusher:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.store, self.outbox, self.client = ctx.store, ctx.outbox, ctx.client
        self.keeper, self.policy, self.retry = ctx.keeper, ctx.policy, ctx.retry

    def push(self, book: Book, report: SyncReport, href: str | None = None) -> None:
        """Push until the outbox (or ``href``'s part of it) is empty or Aurinko stops
        answering. Caller holds the book's lock."""
        started = time.time()  # what fails now is tried again in a later run, not this one
        while (op := self.outbox.claim_next(book.id, href, due=started)) is not None:
            outcome = self._push_one(book, op, report)
            if outcome is Outcome.STOP:
                break
            if outcome is Outcome.DONE:
                report.pushed += 1
        report.pending = self.outbox.count(book.id)

    def _push_one(self, book: Book, op: OutboxOp, report: SyncReport) -> Outcome:
        try:
            self._send(book, op, report)
        except (AurinkoError, MappingError) as exc:
            return self._failed(book, op, exc, report)
        return Outcome.DONE

    def _send(self, book: Book, op: OutboxOp, report: SyncReport) -> None:
        action = plan_send(op.op, op.remote_id)
        if action is SendAction.POST_INSTEAD:
            assert op.local_json is not None
            self.outbox.replace(op.id, WriteOp.CREATE, op.local_json)
            op = replace(op, op=WriteOp.CREATE)
        if action in (SendAction.POST, SendAction.POST_INSTEAD):
            self._create(book, op, report)
        elif action is SendAction.PATCH:
            self._update(book, op, report)
        else:
            self._delete(op)

    def _failed(
        self, book: Book, op: OutboxOp, exc: AurinkoError | MappingError, report: SyncReport
    ) -> Outcome:
        failure = plan_failure(exc)
        if failure is Failure.NOT_NOW:
            assert isinstance(exc, UnavailableError | RateLimitedError)
            return self._not_now(book, op, exc, report)
        if failure is Failure.REFUSED:
            self._park(book, op, str(exc), report)
            return Outcome.SKIPPED
        self.outbox.defer(op.id, str(exc))
        if failure is Failure.ACCOUNT_REFUSED:
            assert isinstance(exc, UnauthorizedError | ForbiddenError)
            report.error = SyncError.of(exc, account_refusal(exc, book.path))
        else:
            report.error = SyncError.of(exc)
        return Outcome.STOP

    def _not_now(
        self, book: Book, op: OutboxOp, exc: UnavailableError | RateLimitedError, report: SyncReport
    ) -> Outcome:
        """Aurinko failed this write without refusing it. When the service is down, every
        write waits for it; when only this one fails, it waits its own backoff (and is
        parked past the attempt cap) while the others go on."""
        attempts = op.attempts + 1  # this one included
        plan = plan_retry(
            status=exc.status,
            paused=self.client.paused_for() > 0,
            may_have_applied=isinstance(exc, UnavailableError) and exc.may_have_applied,
            attempts=attempts,
            max_attempts=self.retry.max_attempts,
            retry_after=exc.retry_after if isinstance(exc, RateLimitedError) else None,
            backoff=self.retry.delay(attempts),
        )
        if plan.action is RetryAction.PARK:
            self._park(book, op, f"gave up after {count(attempts, 'attempt')}: {exc}", report)
            return Outcome.SKIPPED
        if plan.action is RetryAction.DEFER_UNCERTAIN:
            self.outbox.mark_uncertain(op.id, str(exc), plan.delay)
        else:
            self.outbox.defer(op.id, str(exc), plan.delay)
        if plan.stop:
            report.error = SyncError.of(exc)
            return Outcome.STOP
        log.warning(
            "%s: %s of %s failed; again in %.0f s: %s", book.path, op.op, op.href, plan.delay, exc
        )
        return Outcome.DEFERRED

    def _park(self, book: Book, op: OutboxOp, reason: str, report: SyncReport) -> None:
        """Refused for good: the card keeps the user's version, the refusal is recorded for
        ``aurinko-bridge status``, and the rest goes on."""
        log.warning("%s: Aurinko refused %s of %s: %s", book.path, op.op, op.href, reason)
        self.outbox.fail(op.id, reason)
        report.skipped.append(SkippedWrite(op.op, op.href, reason, op.id))

    # -- the three operations ---------------------------------------------------------

    def _create(self, book: Book, op: OutboxOp, report: SyncReport) -> None:
        assert op.local_json is not None
        payload = _sendable(op.local_json)
        result, held = self._holding_refused(
            op, payload, op.local_json, self.client.create, report, keep_one=True
        )
        assert result is not None  # keep_one: a create never ends up sending nothing
        answered = _answered(result, op.local_json)
        held.update(_untaken_photo(op, payload, answered, op.local_json, report))
        self._finish(book, op, answered, held=held, sent_keys=set(payload))

    def _holding_refused(
        self,
        op: OutboxOp,
        payload: Contact,
        local: Contact,
        send: Callable[[Contact], WriteResult],
        report: SyncReport,
        keep_one: bool = False,
    ) -> tuple[WriteResult | None, Contact]:
        """Send ``payload``; when Aurinko refuses one named field (a provider limit, such as
        a fourth email for Office 365), send the rest without it. The refused fields are
        returned as the card has them (``local``), to stay in the card; None when nothing
        was left to send (``keep_one``: a write refused in its last field is refused whole)."""
        held: Contact = {}
        while True:
            try:
                return send(payload), held
            except BadRequestError as exc:
                field = refused_field(exc, payload)
                last = keep_one and len(payload) == 1
                if field is None or last or len(held) >= MAX_HELD_FIELDS:
                    raise
                del payload[field]
                held[field] = local.get(field)
                report.skipped.append(
                    FieldNotTaken(op.op, op.href, field, NotTaken.REFUSED, str(exc))
                )
                if not payload:
                    return None, held

    def _update(self, book: Book, op: OutboxOp, report: SyncReport) -> None:
        assert op.local_json is not None and op.remote_id is not None
        base, etag = op.base_json or {}, op.base_etag or ""
        target = op.local_json
        before = self.store.held(book.id, op.href)
        remote_id = op.remote_id
        for _ in range(MAX_MERGE_ROUNDS):
            # A field Aurinko refused before is not sent again until the user changes it.
            fields = patch_fields(base, target, before)
            if not fields:  # nothing left to say: the remote already holds it
                self._finish(book, op, self._as_held(base, remote_id))
                return
            send = partial(self.client.update, remote_id, etag=etag)
            cleared = removals(base, fields)
            body = spec_body(fields, base, cleared)
            try:
                result, held = self._holding_refused(op, body, target, send, report)
            except PreconditionFailedError:
                current = self.client.get(op.remote_id, with_photo=True)
                target = self._merge(book, op, base, target, current, report)
                base, etag = current, str(current.get("etag") or "")
                continue
            except NotFoundError:
                self._deleted_upstream(book, op, report)
                return
            if result is None:  # only refused fields changed: Aurinko holds the rest already
                answered, sent_keys = self._as_held(base, remote_id), set()
            else:
                answered, sent_keys = _answered(result, target), set(body)
            # What the answer shows unremoved, and removals refused with a 400, get a second form.
            refused = cleared.only(set(held))
            stuck = not_taken(answered, cleared.only(sent_keys)) | refused
            answered, kept = self._clear_or_hold(op, fields, stuck, answered, target, report)
            kept.update(_untaken_photo(op, body if result else {}, answered, target, report))
            took = refused.fields() - set(kept)
            held = {**{k: v for k, v in held.items() if k not in took}, **kept}
            self._finish(book, op, answered, sent=target, held=held, sent_keys=sent_keys | took)
            return
        raise UnavailableError(f"{op.href} keeps changing upstream; will retry")

    def _clear_or_hold(
        self,
        op: OutboxOp,
        changes: Contact,
        stuck: Removals,
        answered: Contact,
        target: Contact,
        report: SyncReport,
    ) -> tuple[Contact, Contact]:
        """Send the removals Aurinko did not make (``stuck``) once more in their other form;
        those it still keeps are held as the card has them: the card keeps the user's
        removal, never what Aurinko put back. Returns what Aurinko holds and the held fields."""
        if not stuck:
            return answered, {}
        assert op.remote_id is not None
        why = "it kept the value after an empty value and after null"
        try:
            answered = self._send_second_form(op.remote_id, changes, stuck, answered, target)
            stuck = not_taken(answered, stuck)
        except BadRequestError as exc:
            why = f"it kept the value after an empty value and refused null: {exc}"
        kept = kept_removals(stuck.fields(), target)
        for key in kept:
            report.skipped.append(FieldNotTaken(op.op, op.href, key, NotTaken.NOT_REMOVED, why))
            log.warning("%s: Aurinko did not remove %s (%s)", op.href, key, why)
        return answered, kept

    def _send_second_form(
        self, remote_id: str, changes: Contact, stuck: Removals, answered: Contact, target: Contact
    ) -> Contact:
        """PATCH ``stuck`` in its second form; what Aurinko holds afterwards. A 412 means the
        contact changed since the first answer (or a retried PATCH of ours went through
        and its answer was lost): read it, and send again only what it still holds."""
        etag = str(answered.get("etag") or "")
        for _ in range(2):
            try:
                result = self.client.update(remote_id, fallback_body(changes, stuck), etag=etag)
                return _answered(result, target)
            except PreconditionFailedError:
                answered = self.client.get(remote_id, with_photo=True)
                stuck, etag = not_taken(answered, stuck), str(answered.get("etag") or "")
                if not stuck:
                    return answered
        raise UnavailableError(f"{remote_id} keeps changing upstream; the removal is tried later")

    def _as_held(self, base: Contact, remote_id: str) -> Contact:
        """The contact as Aurinko holds it when a write had nothing to send: the merge
        base if it is a whole record, else read back."""
        return base if base.get("id") else self.client.get(remote_id)

    def _delete(self, op: OutboxOp) -> None:
        if op.remote_id is not None:
            try:
                self.client.delete(op.remote_id)
            except NotFoundError:
                pass  # already gone: the goal is reached
        self.outbox.done(op, None, None)

    # -- outcomes -------------------------------------------------------------------

    def _merge(
        self,
        book: Book,
        op: OutboxOp,
        base: Contact,
        local: Contact,
        current: Contact,
        report: SyncReport,
    ) -> Contact:
        result = merge3(base, local, current, self.policy)
        if result.conflicts:
            outcome, side = conflict_outcome(self.policy)
            lost = dict(local) if side is LostSide.LOCAL else dict(current)
            row = self.store.get(book.id, op.href)
            lost_vcard = row.vcard if row and side is LostSide.LOCAL else None
            where = self.keeper.keep(book, op.href, outcome, result.conflicts, lost, lost_vcard)
            report.conflicts.append(SyncConflict(op.href, outcome, tuple(result.conflicts), where))
        return result.merged

    def _deleted_upstream(self, book: Book, op: OutboxOp, report: SyncReport) -> None:
        """Aurinko answered 404 to an update: decided as the pull decides a deletion
        upstream of a card with a pending edit."""
        assert op.local_json is not None
        if plan_deletion([op.op], self.policy) is DeletionAction.RECREATE:
            self.outbox.replace(op.id, WriteOp.CREATE, op.local_json)
            self._create(book, replace(op, op=WriteOp.CREATE), report)
            return
        row = self.store.get(book.id, op.href)
        where = self.keeper.keep(
            book,
            op.href,
            ConflictOutcome.DELETED_REMOTELY,
            [],
            op.local_json,
            row.vcard if row else None,
        )
        report.conflicts.append(SyncConflict(op.href, ConflictOutcome.DELETED_REMOTELY, (), where))
        self.outbox.done(op, None, None)
        self.store.delete(book.id, op.href)
        report.deleted += 1

    def _finish(
        self,
        book: Book,
        op: OutboxOp,
        record: Contact,
        sent: Contact | None = None,
        held: Contact | None = None,
        sent_keys: set[str] | None = None,
    ) -> None:
        """Store what Aurinko now holds; later pending edits of the contact stay served.
        ``sent`` is the full contact the write asked for (the op's own, unless merged);
        ``held`` the fields it refused, and ``sent_keys`` those it took (no longer held)."""
        record = _with_sent_photo(record, sent if sent is not None else op.local_json)

        with self.store.db.transaction(book.id):
            self.outbox.done(op, str(record["id"]), record.get("etag"))
            row = self.store.get(book.id, op.href)
            if row is None:
                return  # deleted locally meanwhile; that delete is queued after this op
            still = {k: v for k, v in (row.held or {}).items() if k not in (sent_keys or ())}
            row = replace(row, held={**still, **(held or {})} or None)
            if self.outbox.pending_for(book.id, op.href) or not diff(row.contact, record):
                # Later edits stay served; or Aurinko holds exactly what is served already,
                # and rendering the same card again would only cost time.
                self.store.save(linked_to(row, record))
            else:
                self.store.save(_served(book, record, row))


def _served(book: Book, record: Contact, row: ContactRow) -> ContactRow:
    try:
        return remote_row(book, record, row)
    except MappingError as exc:
        log.warning("%s: cannot render %s as stored upstream (%s)", book.path, row.href, exc)
        return linked_to(row, record)


def _untaken_photo(
    op: OutboxOp, sent: Contact, answered: Contact, local: Contact, report: SyncReport
) -> Contact:
    """The photo, held as the card has it, when a write set one and Aurinko's answer has
    none (Graph and Google set photos through endpoints of their own, which Aurinko may not
    call on a contact write); else nothing. The card keeps its photo and status says so."""
    photo = sent.get("photo")
    if not (isinstance(photo, dict) and photo.get("content")):
        return {}
    if answered.get("hasPhoto") or (answered.get("photo") or {}).get("content"):
        return {}
    report.skipped.append(FieldNotTaken(op.op, op.href, "photo", NotTaken.PHOTO))
    log.warning("%s: Aurinko did not take the photo of the %s", op.href, op.op)
    return {"photo": local.get("photo")}


def _answered(result: WriteResult, sent: Contact) -> Contact:
    """What Aurinko holds after the write: its answer, or, when it answered with the id alone
    and the contact could not be read back, what was sent (the next pull brings the rest;
    a blank card or a second create would be worse)."""
    if result.complete:
        return result.record
    return {**sent, **result.record}


def _sendable(contact: Contact) -> Contact:
    """A create carries the user's fields only; the server assigns id, etag and times."""
    return {k: v for k, v in contact.items() if k not in READ_ONLY}


def _with_sent_photo(record: Contact, sent: Contact | None) -> Contact:
    """Write answers carry ``hasPhoto`` but not the image; it is the one we just sent, and
    the merge base needs it, or the next edit would send the photo again."""
    photo = (sent or {}).get("photo")
    if not record.get("hasPhoto") or (record.get("photo") or {}).get("content") or not photo:
        return record
    return {**record, "photo": photo}
