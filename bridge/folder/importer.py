"""Importing vCard files into a book: a folder, one card, or a multi-card export."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..mapping import MappingError, diff, from_vcard
from ..store import Book, ContactRow, FileRecord, FolderState
from ..store.kinds import BookKind
from ..sync import SyncEngine, UidConflictError
from ..sync.identity import href_for_uid
from ..sync.reports import Skipped, words
from .files import CardText, digest, is_card_file, split_cards

log = logging.getLogger("bridge.folder")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: list[str] = field(default_factory=list)  # "file:line: reason"
    parked: list[Skipped] = field(default_factory=list)  # stored, but refused by Aurinko

    def summary(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.invalid)} invalid"
        )


def card_files(path: Path) -> list[Path]:
    """``path`` itself, or the card files of a folder (sorted, not recursing)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and is_card_file(p))
    return [path]


def read_cards(raw: bytes) -> Iterator[CardText]:
    """The cards of one file's bytes; a single-card file's text passes through untouched."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # vCard 2.1 from Outlook; CHARSET params say more
    cards = split_cards(text)
    if len(cards) <= 1:  # one card, or none: the mapping says what is wrong with it
        yield CardText(text, cards[0].line if cards else 1)
        return
    yield from cards


def import_path(
    engine: SyncEngine,
    book: Book,
    path: Path,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Create or update one contact per card (matched by UID); bad cards are reported
    with their file and line and skipped. Pushes once at the end, not per card.

    A file of a folder that ``export`` or ``watch`` keeps is recorded as read: the folder's
    state then knows the book holds what the file says, and a later ``watch`` sees no edit
    on either side (else it would take the import for a change made in both places)."""
    report = ImportReport()
    by_content = _ContentIndex(engine, book)
    state = FolderState(engine.db, path if path.is_dir() else path.parent, book.id)
    kept = state.files()  # one read: a synced folder of thousands of files costs no more
    for file in card_files(path):
        raw = file.read_bytes()
        cards = list(read_cards(raw))
        for card in cards:
            held = _import_card(engine, book, card, file, report, by_content)
            known = kept.get(file.name)
            if held is not None and len(cards) == 1 and known and known.href == held.href:
                state.record(FileRecord(file.name, held.href, held.etag, digest(raw)))
            if progress:
                progress(1)
    if book.kind == BookKind.AURINKO:
        report_push = engine.push(book)
        report.parked = report_push.skipped
        if report_push.error:
            log.warning("import stored; push to Aurinko deferred: %s", words(report_push.error))
    return report


class _ContentIndex:
    """Contacts by content, built on first need: a card without a UID that was imported
    before is found again by what it says, not created twice."""

    def __init__(self, engine: SyncEngine, book: Book) -> None:
        self.engine = engine
        self.book = book
        self._index: dict[str, str] | None = None

    def find(self, contact: dict[str, object]) -> ContactRow | None:
        if self._index is None:
            self._index = {}
            for item in self.engine.store.list_items(self.book.id):
                row = self.engine.store.get(self.book.id, item.href)
                if row is not None:
                    self._index.setdefault(_key(row.contact), row.href)
        href = self._index.get(_key(contact))
        return self.engine.store.get(self.book.id, href) if href else None

    def add(self, row: ContactRow) -> None:
        if self._index is not None:
            self._index.setdefault(_key(row.contact), row.href)


def _key(contact: dict[str, object]) -> str:
    return json.dumps(diff({}, contact), sort_keys=True, ensure_ascii=False)


def _import_card(
    engine: SyncEngine,
    book: Book,
    card: CardText,
    file: Path,
    report: ImportReport,
    by_content: _ContentIndex,
) -> ContactRow | None:
    """The row that now holds what the card says (None: invalid, or matched by content)."""
    try:
        parsed = from_vcard(card.text)
    except MappingError as exc:
        report.invalid.append(_invalid(file, card, exc))
        return None

    if parsed.uid is None and by_content.find(parsed.contact) is not None:
        report.unchanged += 1
        return None
    uid = parsed.uid or str(uuid.uuid4())  # a card without UID gets one, kept from now on
    existing = engine.store.get_by_uid(book.id, uid)
    if existing is not None and holds(existing, parsed.contact, card.text):
        report.unchanged += 1
        return existing
    href = existing.href if existing is not None else href_for_uid(uid)
    try:
        row = engine.put(book, href, card.text, push=False, uid=uid)
    except (MappingError, UidConflictError) as exc:
        report.invalid.append(f"{file}:{card.line}: {exc}")
        return None

    by_content.add(row)
    if existing is None:
        report.created += 1
    else:
        report.updated += 1
    return row


def holds(row: ContactRow, contact: dict[str, object], text: str) -> bool:
    """Whether ``row`` already is the card ``text`` (parsed: ``contact``): no mapped field
    differs and the text is the one served or the one the client wrote."""
    if diff(row.contact, contact):
        return False
    unfold = _unfolded
    return unfold(text) in (unfold(row.vcard), unfold(row.shadow or ""))


def file_holds(row: ContactRow, data: bytes) -> bool:
    """Whether the book's ``row`` already is the single card in ``data``."""
    cards = list(read_cards(data))
    if len(cards) != 1:
        return False
    try:
        parsed = from_vcard(cards[0].text)
    except MappingError:
        return False
    return parsed.uid in (None, row.uid) and holds(row, parsed.contact, cards[0].text)


def _unfolded(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "").strip()


def _invalid(file: Path, card: CardText, exc: MappingError) -> str:
    """``file:line: reason``, the line counted in the file, not in the card."""
    if exc.line is None:
        return f"{file}:{card.line}: {exc.reason}"
    return f"{file}:{card.line + exc.line - 1}: {exc.reason}"
