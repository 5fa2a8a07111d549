"""Counted nouns read as English: "1 contact", "1 conflict kept" (issue 23, point 7)."""

from __future__ import annotations

import pytest

from bridge.commands.status import _show
from bridge.status import BookStatus, KeptConflict
from bridge.store.kinds import ConflictOutcome
from bridge.sync.reports import SyncConflict, SyncReport
from bridge.words import count


@pytest.mark.parametrize(
    ("number", "noun", "plural", "expected"),
    [
        (0, "contact", None, "0 contacts"),
        (1, "contact", None, "1 contact"),
        (2, "contact", None, "2 contacts"),
        (1, "conflict kept", None, "1 conflict kept"),
        (3, "write waiting", None, "3 writes waiting"),
        (1, "entry", "entries", "1 entry"),
        (2, "entry", "entries", "2 entries"),
    ],
)
def test_count(number: int, noun: str, plural: str | None, expected: str) -> None:
    assert count(number, noun, plural) == expected


def test_status_of_one_of_each_is_singular(capsys: pytest.CaptureFixture[str]) -> None:
    kept = KeptConflict(1, "x.vcf", "remote-wins", ["name"], 0.0, None)
    status = BookStatus(
        "alice", "work", "local", None, None, None, contacts=1, waiting=1, conflicts=[kept]
    )
    _show(status)
    assert "  1 contact; 1 write waiting, 0 parked, 1 conflict kept\n" in capsys.readouterr().out


def test_a_sync_report_with_one_conflict_is_singular() -> None:
    kept = SyncConflict("x.vcf", ConflictOutcome.REMOTE_WINS, ("name",), "/var/x.vcf")
    report = SyncReport("alice/work", conflicts=[kept])
    assert report.summary().endswith(" 0 pending; 1 conflict")  # no space before ";"
