"""Writing a book into a vCard folder (vdir): one file per contact, atomically, and only
where the content changed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..private import private_dir
from ..store import Book, FileRecord, FolderState, StoredItem
from ..store.kinds import ConflictOutcome
from ..sync import SyncEngine
from .files import ABSENT, FileChangedError, digest, filename_for, write_atomic
from .importer import file_holds

log = logging.getLogger("bridge.folder")

# How often a write decides again when the file keeps changing under it.
_ATTEMPTS = 3


@dataclass
class ExportReport:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    kept: list[str] = field(default_factory=list)  # edited here, gone from the book: not deleted

    def summary(self) -> str:
        text = f"{self.written} written, {self.unchanged} unchanged, {self.removed} removed"
        return text + (f", {len(self.kept)} kept (edited locally)" if self.kept else "")


class FolderMirror:
    """Writes a book into a folder.

    With ``on_local_edit`` (watch), a file edited in the folder since the bridge last wrote
    or read it is never overwritten: its name goes to ``on_local_edit`` and the watcher
    imports it, keeping the book's version in ``conflicts/`` if both changed. Without it
    (a one-off export), the book's version goes into the file and the local edit into
    ``conflicts/``.
    """

    def __init__(
        self,
        engine: SyncEngine,
        book: Book,
        folder: Path,
        version: str | None = None,
        on_local_edit: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.book = book
        self.folder = folder
        self.version = version  # None: each card in its own version, as it is stored
        self.state = FolderState(engine.db, folder, book.id)
        self.on_local_edit = on_local_edit

    def _text(self, item: StoredItem) -> str:
        if self.version is None or self.version == item.version:
            return item.vcard
        return self.engine.render(self.book, item.href, self.version) or item.vcard

    def write(self, item: StoredItem, report: ExportReport, *, restore: bool = False) -> None:
        """Bring the file of ``item`` to what the book holds. ``restore``: the file was
        deleted here and is to come back (the mass-deletion guard)."""
        record = self.state.by_href(item.href)
        name = record.filename if record else filename_for(item.href)
        data = self._text(item).encode("utf-8")
        path = self.folder / name
        for _ in range(_ATTEMPTS):
            on_disk = path.read_bytes() if path.exists() else None
            if on_disk == data:
                report.unchanged += 1
                break
            if self.on_local_edit is not None and record is not None:
                if self._left_to_watcher(item, record, on_disk, restore):
                    report.unchanged += 1
                    return
            elif on_disk is not None and record is not None and digest(on_disk) != record.digest:
                self._keep_local_edit(item.href, on_disk)
            try:
                write_atomic(path, data, replaces=ABSENT if on_disk is None else digest(on_disk))
            except FileChangedError:
                continue  # saved while we prepared ours: decide again on what is there now
            report.written += 1
            break
        else:
            log.warning("%s keeps changing; not written this round", path)
            return
        self.state.record(FileRecord(name, item.href, item.etag, digest(data)))

    def _left_to_watcher(
        self, item: StoredItem, record: FileRecord, on_disk: bytes | None, restore: bool
    ) -> bool:
        """Watch only: True when the file must stay as it is.

        The book's item with the etag recorded for the file is the version the file already
        holds (watch's own import of it, above all): never a change to write back. A file
        whose bytes differ from what the bridge last wrote or read there is a save not yet
        imported (or a deletion not yet seen), newer than anything the book holds for it:
        the watcher imports it."""
        assert self.on_local_edit is not None
        if on_disk is None:
            if restore or record.etag != item.etag:
                return False  # restored by the guard; or changed in the book: an edit wins
            self.on_local_edit(record.filename)
            return True
        if digest(on_disk) != record.digest:
            self.on_local_edit(record.filename)
            return True
        return record.etag == item.etag

    def _keep_local_edit(self, href: str, on_disk: bytes) -> None:
        """The file was edited here and the book changed too: the book's version goes into
        the file, the local edit where conflicts are kept (unless it is the book's
        version already, written another way: two identical sides are no conflict)."""
        row = self.engine.store.get(self.book.id, href)
        if row is not None and file_holds(row, on_disk):
            return
        where = self.engine.keeper.keep(
            self.book,
            href,
            ConflictOutcome.FOLDER_EDIT_OVERWRITTEN,
            [],
            None,
            on_disk.decode("utf-8", "replace"),
            logged_by_caller=True,
        )
        log.warning(
            "%s/%s changed on both sides; the folder's version is kept at %s",
            self.folder,
            href,
            where,
        )

    def remove(self, href: str, report: ExportReport) -> None:
        """Delete the file of a contact that left the book, unless edited since we wrote it."""
        record = self.state.by_href(href)
        if record is None:
            return
        path = self.folder / record.filename
        if path.exists() and digest(path.read_bytes()) != record.digest:
            log.warning("%s changed here but was deleted from %s: kept", path, self.book.path)
            report.kept.append(str(path))
        else:
            path.unlink(missing_ok=True)
            report.removed += 1
        self.state.forget(record.filename)

    def export_all(self) -> ExportReport:
        """The whole book; files of contacts no longer in it are removed."""
        private_dir(self.folder, tighten=False)  # cards hold contact data: 0700 if we make it
        report = ExportReport()
        seq = self.engine.store.current_seq(self.book.id)  # before listing: nothing missed
        items = self.engine.store.list_items(self.book.id)
        live = {item.href for item in items}
        for item in items:
            self.write(item, report)
        for record in self.state.files().values():
            if record.href not in live:
                self.remove(record.href, report)
        self.state.set_seq(seq)
        return report

    def export_changes(self) -> ExportReport:
        """Only what the change log says changed since the last export or sync."""
        since = self.state.seq()
        if since is None:
            return self.export_all()
        report = ExportReport()
        upto, hrefs = self.engine.store.changes_since(self.book.id, since)
        found = self.engine.store.get_items(self.book.id, hrefs)
        for href in hrefs:
            if href in found:
                self.write(found[href], report)
            else:
                self.remove(href, report)
        self.state.set_seq(upto)
        return report
