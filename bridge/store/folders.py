"""What the bridge last wrote to (or read from) each file of a synced folder (export,
watch), and how far in the book's change log the folder has caught up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .interface import Database


@dataclass(frozen=True)
class FileRecord:
    filename: str
    href: str
    etag: str  # the served etag the file's content corresponds to
    digest: str  # sha256 of the bytes on disk when the bridge last touched it


class FolderState:
    """Rows of ``folder_files`` and the change-log position of one folder and book."""

    def __init__(self, db: Database, folder: Path, book_id: int) -> None:
        self.db = db
        self.folder = str(folder.resolve())
        self.book_id = book_id

    def files(self) -> dict[str, FileRecord]:
        rows = (
            self.db.connection()
            .execute(
                "SELECT filename, href, etag, digest FROM folder_files"
                " WHERE folder = ? AND book_id = ?",
                (self.folder, self.book_id),
            )
            .fetchall()
        )
        return {r["filename"]: FileRecord(*r) for r in rows}

    def get(self, filename: str) -> FileRecord | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT filename, href, etag, digest FROM folder_files"
                " WHERE folder = ? AND filename = ?",
                (self.folder, filename),
            )
            .fetchone()
        )
        return FileRecord(*row) if row else None

    def by_href(self, href: str) -> FileRecord | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT filename, href, etag, digest FROM folder_files"
                " WHERE folder = ? AND book_id = ? AND href = ?",
                (self.folder, self.book_id, href),
            )
            .fetchone()
        )
        return FileRecord(*row) if row else None

    def record(self, record: FileRecord) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO folder_files (folder, book_id, filename, href, etag, digest)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (folder, filename) DO UPDATE SET"
                " book_id = excluded.book_id, href = excluded.href, etag = excluded.etag,"
                " digest = excluded.digest",
                (
                    self.folder,
                    self.book_id,
                    record.filename,
                    record.href,
                    record.etag,
                    record.digest,
                ),
            )

    def forget(self, filename: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM folder_files WHERE folder = ? AND filename = ?",
                (self.folder, filename),
            )

    def seq(self) -> int | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT seq FROM folder_state WHERE folder = ? AND book_id = ?",
                (self.folder, self.book_id),
            )
            .fetchone()
        )
        return int(row["seq"]) if row else None

    def set_seq(self, seq: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO folder_state (folder, book_id, seq) VALUES (?, ?, ?)"
                " ON CONFLICT (folder, book_id) DO UPDATE SET seq = excluded.seq",
                (self.folder, self.book_id, seq),
            )
