"""A folder conflict (the file and the book both changed) is logged once, in the folder's
words, not a second time by the conflict keeper (issue 23, point 7)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.folder import FolderWatcher
from bridge.folder.mirror import FolderMirror
from bridge.store import Book
from bridge.sync import SyncEngine
from tests.folder.test_watch import OPTIONS, card
from tests.sync.conftest import make_engine


@pytest.fixture
def engine_book(live_sandbox: str, tmp_path: Path) -> Iterator[tuple[SyncEngine, Book]]:
    engine = make_engine(tmp_path / "bridge", live_sandbox)
    book = engine.book("alice", "work")
    assert book is not None
    engine.put(book, "ann.vcf", card("uid-ann", "Ann"))
    yield engine, book
    engine.close()


def conflict_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and "ann.vcf" in r.getMessage()
    ]


def test_watch_logs_a_both_sides_edit_once(
    engine_book: tuple[SyncEngine, Book], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine, book = engine_book
    folder = tmp_path / "cards"
    folder.mkdir()
    watcher = FolderWatcher(engine, book, folder, OPTIONS)  # driven by hand, not started
    watcher.mirror.export_all()
    engine.put(book, "ann.vcf", card("uid-ann", "Ann from the book"))
    (folder / "ann.vcf").write_text(card("uid-ann", "Ann from the folder"), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        watcher.apply_local({"ann.vcf"})
    [line] = conflict_lines(caplog)
    assert "changed in the folder and in the book; the book's version is kept at" in line
    assert len(engine.outbox.conflicts(book.id)) == 1


def test_export_logs_a_both_sides_edit_once(
    engine_book: tuple[SyncEngine, Book], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine, book = engine_book
    folder = tmp_path / "cards"
    FolderMirror(engine, book, folder).export_all()
    engine.put(book, "ann.vcf", card("uid-ann", "Ann from the book"))
    (folder / "ann.vcf").write_text(card("uid-ann", "Ann from the folder"), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        FolderMirror(engine, book, folder).export_all()
    [line] = conflict_lines(caplog)
    assert "changed on both sides; the folder's version is kept at" in line
