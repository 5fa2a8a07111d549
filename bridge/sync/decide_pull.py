"""What the pull does with each upstream record and each upstream deletion, decided apart
from doing it: plain inputs in, a named action out, so every case is a row of a table
(tests/sync/test_plan.py). ``pull.Puller`` gathers the inputs and carries the action out."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence

from ..store import ContactRow, OutboxOp
from ..store.kinds import WriteOp
from .fields import Contact, without_photo_content
from .merge import ConflictPolicy


class RecordAction(enum.Enum):
    """What a record of an updated page does to the book."""

    INSERT = "insert"  # new here: a contact born upstream
    UPDATE = "update"  # known, and Aurinko's version changed: serve it
    SAME_VERSION = "same-version"  # the version we hold (our own write's echo, a replay)
    DELETED_HERE = "deleted-here"  # gone here, its delete not pushed yet: it does not come back
    EDITED_HERE = "edited-here"  # a local edit is on its way up; its PATCH meets a 412 and merges


def plan_record(
    existing: ContactRow | None,
    etag: object,
    deleting_here: Callable[[], bool],
    pending_here: Callable[[], bool],
) -> RecordAction:
    """``existing``: the row the record's remote id (or a lost create) links to; ``etag``:
    the record's. The two outbox facts are asked only when the answer depends on them (a
    query each, once per record of a full listing)."""
    if existing is None:
        return RecordAction.DELETED_HERE if deleting_here() else RecordAction.INSERT
    if existing.remote_etag == etag:
        return RecordAction.SAME_VERSION
    return RecordAction.EDITED_HERE if pending_here() else RecordAction.UPDATE


def lost_create(record: Contact, uncertain_creates: Iterable[OutboxOp]) -> OutboxOp | None:
    """The create whose answer was lost and which ``record`` is (same fields, the photo's
    bytes aside: a page carries none): the record is linked to it, not added twice."""
    seen = without_photo_content(record)
    for op in uncertain_creates:
        if op.local_json is not None and without_photo_content(op.local_json) == seen:
            return op
    return None


class DeletionAction(enum.Enum):
    """What a contact deleted upstream does to the book."""

    DELETE = "delete"  # nothing pending here: it goes
    DELETE_DROPPING_DELETES = "delete-dropping-deletes"  # deleted on both sides
    RECREATE = "recreate"  # edited here, local wins: it goes up again as new
    DELETE_KEEPING_EDIT = "delete-keeping-edit"  # edited here, remote wins: kept as a conflict


def plan_deletion(pending: Sequence[WriteOp], policy: ConflictPolicy) -> DeletionAction:
    """``pending``: the operations waiting in the outbox for the deleted contact's card."""
    if not pending:
        return DeletionAction.DELETE
    if all(op == WriteOp.DELETE for op in pending):
        return DeletionAction.DELETE_DROPPING_DELETES
    if policy is ConflictPolicy.LOCAL_WINS:
        return DeletionAction.RECREATE
    return DeletionAction.DELETE_KEEPING_EDIT
