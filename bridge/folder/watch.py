"""Keeping a vCard folder and a book in sync both ways until stopped (watchdog)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ..mapping import MappingError
from ..private import private_dir
from ..store import Book, FileRecord
from ..store.kinds import ConflictOutcome
from ..sync import SyncEngine, UidConflictError
from ..sync.reports import words
from ..words import count
from .files import digest, is_card_file
from .importer import file_holds
from .mirror import ExportReport, FolderMirror

log = logging.getLogger("bridge.folder")


@dataclass(frozen=True)
class WatchOptions:
    debounce: float = 0.5  # quiet time before a burst of file events is acted on
    interval: float = 60.0  # seconds between pulls from Aurinko
    refresh: float = 1.0  # seconds between looks at the change log (CardDAV edits)
    max_delete_share: float = 0.5  # more than this share of the files vanishing at once...
    delete_guard_min: int = 5  # ...and more than this many files, is a mass deletion
    allow_mass_delete: bool = False


class _Events(FileSystemEventHandler):
    """Collects the names of card files that something touched; the worker acts later."""

    def __init__(self, watcher: FolderWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = Path(raw if isinstance(raw, str) else raw.decode())
            if raw and path.parent == self.watcher.folder and is_card_file(path):
                self.watcher.touched(path.name)


class FolderWatcher:
    def __init__(
        self,
        engine: SyncEngine,
        book: Book,
        folder: Path,
        options: WatchOptions | None = None,
        version: str | None = None,
    ) -> None:
        self.engine = engine
        self.book = book
        self.folder = folder.resolve()
        self.options = options or WatchOptions()
        # Files edited here are imported by this watcher, never overwritten by the export.
        self.mirror = FolderMirror(engine, book, self.folder, version, self.touched)
        self._pending: set[str] = set()
        self._last_event = 0.0
        self._bad: dict[str, str] = {}  # file -> digest of content that failed to import
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        private_dir(self.folder, tighten=False)  # cards hold contact data: 0700 if we make it
        # Watch first: a file saved while the start-up reconcile runs (the first export is
        # already on disk by then) would otherwise be seen by nobody until the next restart.
        self._watch()
        self._reconcile()
        self._thread = threading.Thread(target=self._run, name="bridge-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)

    def _watch(self) -> None:
        observer = Observer()
        observer.schedule(_Events(self), str(self.folder), recursive=False)
        observer.start()
        self._observer = observer

    def touched(self, *names: str) -> None:
        with self._lock:
            self._pending.update(names)
            self._last_event = time.monotonic()

    # -- the loop --------------------------------------------------------------------

    def _run(self) -> None:
        next_pull = next_refresh = 0.0
        while not self._stop.wait(0.1):
            try:
                if not self.folder.is_dir():
                    self._folder_vanished()
                    continue
                self._flush_local()
                now = time.monotonic()
                if now >= next_pull:
                    next_pull = now + self.options.interval
                    report = self.engine.sync(self.book)
                    if report.error:
                        log.warning("%s: %s", self.book.path, words(report.error))
                if now >= next_refresh:
                    next_refresh = now + self.options.refresh
                    self._log_export(self.mirror.export_changes())
            except Exception:  # the watcher must outlive any one bad round
                log.exception("folder sync round failed; retrying")

    def _flush_local(self) -> None:
        with self._lock:
            quiet = time.monotonic() - self._last_event >= self.options.debounce
            if not self._pending or not quiet:
                return
            names, self._pending = self._pending, set()
        try:
            self.apply_local(names)
        except BaseException:  # looked at again after the debounce: a save is never dropped
            self.touched(*names)
            raise

    def _reconcile(self) -> None:
        """At start: changes made while nobody watched, both ways."""
        known = self.mirror.state.files()
        if not known:
            self._log_export(self.mirror.export_all())
        on_disk = {p.name for p in self.folder.iterdir() if p.is_file() and is_card_file(p)}
        self.apply_local(on_disk | set(known))
        self.engine.sync(self.book)
        self._log_export(self.mirror.export_changes())

    # -- folder -> book ----------------------------------------------------------------

    def apply_local(self, names: set[str]) -> None:
        state = self.mirror.state.files()
        gone = [n for n in names if n in state and not (self.folder / n).exists()]
        if self._is_mass_deletion(len(gone), len(state)):
            log.error(
                "%d of %s vanished from %s at once; refusing to delete the contacts "
                "(restoring the files). Run with --allow-mass-delete to propagate it.",
                len(gone),
                count(len(state), "file"),
                self.folder,
            )
            self._restore(gone)
            gone = []
        for name in sorted(names):
            path = self.folder / name
            if path.exists():
                self._put_file(path, state.get(name))
        for name in gone:
            self._delete_file(state[name])

    def _is_mass_deletion(self, gone: int, total: int) -> bool:
        opts = self.options
        return (
            not opts.allow_mass_delete
            and gone > opts.delete_guard_min
            and gone > opts.max_delete_share * total
        )

    def _put_file(self, path: Path, record: FileRecord | None) -> None:
        data = path.read_bytes()
        current = digest(data)
        if record is not None and record.digest == current:
            return  # our own write, or touched without a change
        if self._bad.get(path.name) == current:
            return
        href = record.href if record is not None else path.name
        row = self.engine.store.get(self.book.id, href)
        if row is not None and file_holds(row, data):
            # The book has this very card already (imported, or the same edit made both
            # ways): nothing to write, and two identical sides are no conflict.
            self.mirror.state.record(FileRecord(path.name, href, row.etag, current))
            return
        self._keep_if_both_changed(href, record)
        try:
            row = self.engine.put(self.book, href, data)
        except (MappingError, UidConflictError) as exc:
            log.error("%s: not imported: %s", path, exc)
            self._bad[path.name] = current
            return
        self._bad.pop(path.name, None)
        self.mirror.state.record(FileRecord(path.name, href, row.etag, current))
        log.info("%s -> %s", path.name, self.book.path)

    def _keep_if_both_changed(self, href: str, record: FileRecord | None) -> None:
        row = self.engine.store.get(self.book.id, href)
        if record is not None and row is not None and row.etag != record.etag:
            where = self.engine.keeper.keep(
                self.book,
                href,
                ConflictOutcome.FOLDER_EDIT_WON,
                [],
                row.contact,
                row.vcard,
                logged_by_caller=True,
            )
            log.warning(
                "%s changed in the folder and in the book; the book's version is kept at %s",
                href,
                where,
            )

    def _delete_file(self, record: FileRecord) -> None:
        self.mirror.state.forget(record.filename)
        if self.engine.store.get(self.book.id, record.href) is not None:
            self.engine.delete(self.book, record.href)
            log.info("%s deleted -> %s", record.filename, self.book.path)

    def _restore(self, names: list[str]) -> None:
        state = self.mirror.state.files()
        hrefs = [state[n].href for n in names if n in state]
        report = ExportReport()
        for item in self.engine.store.get_items(self.book.id, hrefs).values():
            self.mirror.write(item, report, restore=True)

    def _folder_vanished(self) -> None:
        """The whole folder went away: a mass deletion unless explicitly allowed."""
        state = self.mirror.state.files()
        private_dir(self.folder, tighten=False)
        self._rewatch()  # before anything is written, so no event is missed
        if self._is_mass_deletion(len(state), len(state)):
            log.error("%s vanished; recreating it from %s", self.folder, self.book.path)
            self._restore(list(state))
        else:
            self.apply_local(set(state))
        for path in self.folder.iterdir():  # written while the folder was being rebuilt
            if is_card_file(path):
                self.touched(path.name)

    def _rewatch(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
        self._watch()

    @staticmethod
    def _log_export(report: ExportReport) -> None:
        if report.written or report.removed:
            log.info("folder updated: %s", report.summary())
