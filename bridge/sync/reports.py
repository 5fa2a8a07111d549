"""What a pull or push did, for the CLI and the logs.

A report holds records, not sentences: what was skipped, which conflicts were kept, why a
run stopped. ``words`` turns each into the line the CLI and the logs print, in this one
place, so every caller says it alike and tests can ask a record what it holds."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..store.kinds import ConflictOutcome, WriteOp
from ..words import count


@dataclass(frozen=True)
class SkippedWrite:
    """An outbox entry refused for good (parked as failed); the rest goes on."""

    op: WriteOp
    href: str
    reason: str
    outbox_id: int


class NotTaken(enum.Enum):
    """Why a write went up without one of its fields (the card keeps the field)."""

    REFUSED = "refused"  # Aurinko refused the field with a 400 naming it
    NOT_REMOVED = "not-removed"  # a removal Aurinko did not make, in either form
    PHOTO = "photo"  # the answer to a write that set a photo has none


@dataclass(frozen=True)
class FieldNotTaken:
    """A write that reached Aurinko without one field; the card keeps its own value."""

    op: WriteOp
    href: str
    field: str
    why: NotTaken
    detail: str = ""  # Aurinko's words, or why the removal did not take


@dataclass(frozen=True)
class SkippedRecord:
    """A remote record the pull could not take in; ``remote_id`` None: it had no id."""

    remote_id: str | None
    reason: str = ""


Skipped = SkippedWrite | FieldNotTaken | SkippedRecord


@dataclass(frozen=True)
class SyncConflict:
    """A conflict the run kept: the losing version lives at ``where``."""

    href: str
    outcome: ConflictOutcome
    fields: tuple[str, ...]
    where: str  # a file path, or the store's table


@dataclass(frozen=True)
class SyncError:
    """Why a run stopped early: the exception's class and the words to show for it."""

    kind: str
    text: str

    @classmethod
    def of(cls, exc: BaseException, text: str | None = None) -> SyncError:
        """``exc`` as a record; ``text`` replaces its message (words saying what to do)."""
        return cls(type(exc).__name__, str(exc) if text is None else text)


@dataclass
class SyncReport:
    book: str
    created: int = 0  # contacts new in the store
    updated: int = 0  # served cards that changed
    deleted: int = 0
    unchanged: int = 0  # records seen that changed nothing (own echoes included)
    pushed: int = 0  # outbox operations that reached Aurinko
    pending: int = 0  # operations still waiting in the outbox
    full_resync: bool = False
    skipped: list[Skipped] = field(default_factory=list)  # bad records, with the reason
    conflicts: list[SyncConflict] = field(default_factory=list)  # each losing version kept
    error: SyncError | None = None  # why the run stopped early, if it did

    def summary(self) -> str:
        parts = [
            f"{self.book}:",
            f"{self.created} created, {self.updated} updated, {self.deleted} deleted,",
            f"{self.unchanged} unchanged; {self.pushed} pushed, {self.pending} pending",
        ]
        if self.full_resync:
            parts.append("(full resync)")
        # "; ..." follows the word before it: "0 pending; 1 conflict", never "pending ;".
        if self.skipped:
            parts[-1] += f"; {len(self.skipped)} skipped"
        if self.conflicts:
            parts[-1] += f"; {count(len(self.conflicts), 'conflict')}"
        return " ".join(parts)


def words(item: Skipped | SyncConflict | SyncError) -> str:
    """The line a record is printed and logged as."""
    match item:
        case SkippedWrite(op, href, reason, outbox_id):
            return f"{op} {href}: {reason} (outbox #{outbox_id})"
        case FieldNotTaken(op, href, name, why, detail):
            return f"{op} {href}: {_not_taken(name, why, detail)}"
        case SkippedRecord(None, _):
            return "a record without an id"
        case SkippedRecord(remote_id, reason):
            return f"{remote_id}: {reason}"
        case SyncConflict(where=where):
            return where
        case SyncError(text=text):
            return text
    raise TypeError(f"not a report record: {item!r}")


def _not_taken(name: str, why: NotTaken, detail: str) -> str:
    if why is NotTaken.REFUSED:
        return f"Aurinko refused {name} ({detail}); the rest was sent, the card keeps it"
    if why is NotTaken.NOT_REMOVED:
        return f"Aurinko did not remove {name} ({detail}); the card keeps the removal"
    return f"Aurinko did not take the {name} (its answer has none); the card keeps it"
