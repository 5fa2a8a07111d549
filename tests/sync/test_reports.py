"""A report's records read as the lines the CLI and the logs printed when reports held
text: ``words`` is the one place they are written, and must say exactly that."""

from __future__ import annotations

import pytest

from bridge.aurinko import UnavailableError
from bridge.store.kinds import ConflictOutcome, WriteOp
from bridge.sync.reports import (
    FieldNotTaken,
    NotTaken,
    SkippedRecord,
    SkippedWrite,
    SyncConflict,
    SyncError,
    words,
)

LINES = [
    (SkippedWrite(WriteOp.CREATE, "a.vcf", "bad phone", 7), "create a.vcf: bad phone (outbox #7)"),
    (
        FieldNotTaken(WriteOp.UPDATE, "a.vcf", "birthday", NotTaken.REFUSED, "400 bad"),
        "update a.vcf: Aurinko refused birthday (400 bad); the rest was sent, the card keeps it",
    ),
    (
        FieldNotTaken(WriteOp.UPDATE, "a.vcf", "notes", NotTaken.NOT_REMOVED, "it kept it"),
        "update a.vcf: Aurinko did not remove notes (it kept it); the card keeps the removal",
    ),
    (
        FieldNotTaken(WriteOp.CREATE, "a.vcf", "photo", NotTaken.PHOTO),
        "create a.vcf: Aurinko did not take the photo (its answer has none); the card keeps it",
    ),
    (SkippedRecord(None), "a record without an id"),
    (SkippedRecord("r1", "no name"), "r1: no name"),
    (SyncConflict("a.vcf", ConflictOutcome.REMOTE_WINS, ("nickName",), "/x.vcf"), "/x.vcf"),
    (SyncError("UnavailableError", "down"), "down"),
]


@pytest.mark.parametrize(("record", "line"), LINES)
def test_a_record_reads_as_its_old_line(record: object, line: str) -> None:
    assert words(record) == line  # type: ignore[arg-type]


def test_an_error_record_keeps_the_exception_class_and_its_words() -> None:
    exc = UnavailableError("Aurinko is down")
    assert SyncError.of(exc) == SyncError("UnavailableError", "Aurinko is down")
    assert SyncError.of(exc, "try later").text == "try later"
