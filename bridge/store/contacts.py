"""Address books, contacts and the change log that backs CardDAV sync tokens."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing

from .interface import Database
from .rows import Book, ContactRow, ItemMeta, Json, ListedCard, StoredItem, dumps, loads

_ITEM_COLUMNS = "href, uid, etag, vcard, last_modified, version"
_META_COLUMNS = "href, uid, etag, last_modified"  # all in the contacts_listing index


class BookExistsError(ValueError):
    """An address book of that name already exists for that owner."""


class ContactStore:
    """Books, contacts and their change log, over one ``Database``.

    Every mutation of a served card appends to the change log in the same transaction, so
    a sync token can never miss a change or see one that was rolled back.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.epoch = self._epoch()

    def _epoch(self) -> str:
        """A random id of this database: tokens from another store are refused, not misread."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            if row:
                return str(row["value"])
            epoch = secrets.token_hex(6)
            conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
            return epoch

    # -- books -------------------------------------------------------------------

    def ensure_book(
        self,
        owner: str,
        name: str,
        kind: str,
        *,
        vcard_version: str = "3.0",
        props: Json | None = None,
    ) -> Book:
        """The book ``owner/name``, created on first use; ``kind`` of an existing one is kept."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO books (owner, name, kind, vcard_version, props)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner, name) DO NOTHING",
                (owner, name, kind, vcard_version, json.dumps(props or {})),
            )
            conn.execute(
                "UPDATE books SET vcard_version = ? WHERE owner = ? AND name = ?",
                (vcard_version, owner, name),
            )
        book = self.get_book(owner, name)
        assert book is not None
        return book

    def create_book(self, owner: str, name: str, kind: str, props: Json | None = None) -> Book:
        with self.db.transaction() as conn:
            if self._book_row(owner, name) is not None:
                raise BookExistsError(f"address book {owner}/{name} already exists")
            conn.execute(
                "INSERT INTO books (owner, name, kind, props) VALUES (?, ?, ?, ?)",
                (owner, name, kind, json.dumps(props or {})),
            )
        book = self.get_book(owner, name)
        assert book is not None
        return book

    def _book_row(self, owner: str, name: str) -> Book | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM books WHERE owner = ? AND name = ?", (owner, name))
            .fetchone()
        )
        return Book.from_row(row) if row else None

    def get_book(self, owner: str, name: str) -> Book | None:
        return self._book_row(owner, name)

    def book_by_id(self, book_id: int) -> Book:
        row = (
            self.db.connection().execute("SELECT * FROM books WHERE id = ?", (book_id,)).fetchone()
        )
        if row is None:
            raise KeyError(f"no address book with id {book_id}")
        return Book.from_row(row)

    def list_books(self, owner: str | None = None) -> list[Book]:
        conn = self.db.connection()
        if owner is None:
            rows = conn.execute("SELECT * FROM books ORDER BY owner, name").fetchall()
        else:
            rows = conn.execute(
                "SELECT * FROM books WHERE owner = ? ORDER BY name", (owner,)
            ).fetchall()
        return [Book.from_row(r) for r in rows]

    def delete_book(self, book_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM books WHERE id = ?", (book_id,))

    def set_book_props(self, book_id: int, props: Json) -> None:
        with self.db.transaction(book_id) as conn:
            conn.execute("UPDATE books SET props = ? WHERE id = ?", (json.dumps(props), book_id))

    def set_tokens(self, book_id: int, updated: str | None, deleted: str | None) -> None:
        with self.db.transaction(book_id) as conn:
            conn.execute(
                "UPDATE books SET updated_token = ?, deleted_token = ? WHERE id = ?",
                (updated, deleted, book_id),
            )

    def set_updated_token(self, book_id: int, token: str) -> None:
        with self.db.transaction(book_id) as conn:
            conn.execute("UPDATE books SET updated_token = ? WHERE id = ?", (token, book_id))

    def set_deleted_token(self, book_id: int, token: str) -> None:
        with self.db.transaction(book_id) as conn:
            conn.execute("UPDATE books SET deleted_token = ? WHERE id = ?", (token, book_id))

    def mark_pulled(self, book_id: int, when: float | None = None) -> None:
        with self.db.transaction(book_id) as conn:
            conn.execute(
                "UPDATE books SET last_pull = ? WHERE id = ?", (when or time.time(), book_id)
            )

    # -- full resync bookkeeping ---------------------------------------------------

    def begin_resync(self, book_id: int) -> int:
        """Start (or resume, after a crash) a full listing; returns its generation."""
        with self.db.transaction(book_id) as conn:
            book = self.book_by_id(book_id)
            if book.resync_running:
                return book.resync_generation
            conn.execute(
                "UPDATE books SET resync_generation = resync_generation + 1, resync_running = 1,"
                " updated_token = NULL, deleted_token = NULL WHERE id = ?",
                (book_id,),
            )
            return book.resync_generation + 1

    def mark_seen(self, book_id: int, remote_ids: Iterable[str], generation: int) -> None:
        with self.db.transaction(book_id) as conn:
            conn.executemany(
                "UPDATE contacts SET seen_generation = ? WHERE book_id = ? AND remote_id = ?",
                [(generation, book_id, rid) for rid in remote_ids],
            )

    def unseen_since(self, book_id: int, generation: int) -> list[ContactRow]:
        """Contacts linked upstream that the full listing of ``generation`` did not show."""
        rows = (
            self.db.connection()
            .execute(
                "SELECT * FROM contacts WHERE book_id = ? AND remote_id IS NOT NULL"
                " AND seen_generation < ?",
                (book_id, generation),
            )
            .fetchall()
        )
        return [ContactRow.from_row(r) for r in rows]

    def finish_resync(self, book_id: int) -> None:
        with self.db.transaction(book_id) as conn:
            conn.execute(
                "UPDATE books SET resync_running = 0, resync_resume = NULL WHERE id = ?",
                (book_id,),
            )

    def set_resync_resume(self, book_id: int, resume: Json | None) -> None:
        """Where an interrupted full listing picks up (saved with the page it follows)."""
        with self.db.transaction(book_id) as conn:
            conn.execute(
                "UPDATE books SET resync_resume = ? WHERE id = ?", (dumps(resume), book_id)
            )

    # -- contacts -----------------------------------------------------------------------

    def _one(self, where: str, args: tuple[object, ...]) -> ContactRow | None:
        row = self.db.connection().execute(f"SELECT * FROM contacts WHERE {where}", args).fetchone()
        return ContactRow.from_row(row) if row else None

    def get(self, book_id: int, href: str) -> ContactRow | None:
        return self._one("book_id = ? AND href = ?", (book_id, href))

    def get_by_uid(self, book_id: int, uid: str) -> ContactRow | None:
        return self._one("book_id = ? AND uid = ?", (book_id, uid))

    def get_by_remote_id(self, book_id: int, remote_id: str) -> ContactRow | None:
        return self._one("book_id = ? AND remote_id = ?", (book_id, remote_id))

    def has_uid(self, book_id: int, uid: str) -> bool:
        row = (
            self.db.connection()
            .execute("SELECT 1 FROM contacts WHERE book_id = ? AND uid = ?", (book_id, uid))
            .fetchone()
        )
        return row is not None

    def list_items(self, book_id: int) -> list[StoredItem]:
        rows = (
            self.db.connection()
            .execute(
                f"SELECT {_ITEM_COLUMNS} FROM contacts WHERE book_id = ? ORDER BY href", (book_id,)
            )
            .fetchall()
        )
        return [StoredItem(*r) for r in rows]

    def meta(self, book_id: int, href: str) -> ItemMeta | None:
        """One card's names, etag and date, from the listing index alone."""
        row = (
            self.db.connection()
            .execute(
                f"SELECT {_META_COLUMNS} FROM contacts WHERE book_id = ? AND href = ?",
                (book_id, href),
            )
            .fetchone()
        )
        return None if row is None else ItemMeta(*row)

    def href_of_uid(self, book_id: int, uid: str) -> str | None:
        row = (
            self.db.connection()
            .execute("SELECT href FROM contacts WHERE book_id = ? AND uid = ?", (book_id, uid))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def list_meta(self, book_id: int) -> list[ItemMeta]:
        """Every card's href, UID, etag and date, without reading a card (PROPFIND)."""
        rows = (
            self.db.connection()
            .execute(
                f"SELECT {_META_COLUMNS} FROM contacts WHERE book_id = ? ORDER BY href",
                (book_id,),
            )
            .fetchall()
        )
        return [ItemMeta(*r) for r in rows]

    def stream_cards(
        self,
        book_id: int,
        hrefs: Sequence[str] | None,
        *,
        with_text: bool = False,
        with_length: bool = False,
        batch: int = 500,
    ) -> Iterator[tuple[str, ListedCard | None]]:
        """Every card of the book (``hrefs`` None) or the named ones (None for each one not
        stored), read in one snapshot a batch at a time, so that a listing of any size is
        answered in constant memory. The consumer must stay on the calling thread. A card's
        text and length cost a read of the card: only what is asked for is read."""
        length = self.db.octet_length("vcard") if with_length else "0"
        text = "vcard, version" if with_text else "NULL, NULL"
        columns = f"href, etag, last_modified, {length}, {text}"
        with self.db.snapshot() as conn:
            if hrefs is None:
                query = f"SELECT {columns} FROM contacts WHERE book_id = ? ORDER BY href"
                # Closed before the snapshot ends: PostgreSQL's cursor lives in it.
                with closing(conn.batches(query, (book_id,), batch)) as batches:
                    for rows in batches:
                        yield from ((r[0], ListedCard(*r)) for r in rows)
                return
            for start in range(0, len(hrefs), batch):
                chunk = hrefs[start : start + batch]
                marks = ",".join("?" * len(chunk))
                found = {
                    r[0]: ListedCard(*r)
                    for r in conn.execute(
                        f"SELECT {columns} FROM contacts WHERE book_id = ? AND href IN ({marks})",
                        (book_id, *chunk),
                    )
                }
                yield from ((href, found.get(href)) for href in chunk)

    def vcard(self, book_id: int, href: str) -> tuple[str, str] | None:
        """A card's served text and the vCard version it is in."""
        row = (
            self.db.connection()
            .execute(
                "SELECT vcard, version FROM contacts WHERE book_id = ? AND href = ?",
                (book_id, href),
            )
            .fetchone()
        )
        return None if row is None else (str(row[0]), str(row[1]))

    def get_items(self, book_id: int, hrefs: Iterable[str]) -> dict[str, StoredItem]:

        conn = self.db.connection()
        found: dict[str, StoredItem] = {}
        for href in hrefs:
            row = conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM contacts WHERE book_id = ? AND href = ?",
                (book_id, href),
            ).fetchone()
            if row:
                found[href] = StoredItem(*row)
        return found

    def card_at(self, owner: str, name: str, href: str) -> StoredItem | None:
        """The card at ``/owner/name/href``, found and read in one query (a GET): its text,
        etag and date always belong together."""
        columns = ", ".join(f"c.{column}" for column in _ITEM_COLUMNS.split(", "))
        row = (
            self.db.connection()
            .execute(
                f"SELECT {columns} FROM contacts c JOIN books b ON b.id = c.book_id"
                " WHERE b.owner = ? AND b.name = ? AND c.href = ?",
                (owner, name, href),
            )
            .fetchone()
        )
        return None if row is None else StoredItem(*row)

    def count(self, book_id: int) -> int:
        row = (
            self.db.connection()
            .execute("SELECT COUNT(*) FROM contacts WHERE book_id = ?", (book_id,))
            .fetchone()
        )
        return int(row[0])

    def last_modified(self, book_id: int) -> float:
        """When a card of the book last changed (seconds since the epoch; 0 if it has none)."""
        row = (
            self.db.connection()
            .execute("SELECT MAX(last_modified) FROM contacts WHERE book_id = ?", (book_id,))
            .fetchone()
        )
        return float(row[0] or 0)

    def held(self, book_id: int, href: str) -> Json:
        """The fields Aurinko refused of the contact at ``href`` (see ``ContactRow.held``),
        without reading the rest of the row: an update's push asks on every write."""
        row = (
            self.db.connection()
            .execute(
                "SELECT held_json FROM contacts WHERE book_id = ? AND href = ?", (book_id, href)
            )
            .fetchone()
        )
        return (loads(row[0]) if row else None) or {}

    def holding(self, book_id: int) -> list[str]:
        """The hrefs of the book's contacts with fields Aurinko refused (for the status
        page: a listing, like ``count``, not a request path)."""
        rows = (
            self.db.connection()
            .execute(
                "SELECT href FROM contacts WHERE book_id = ? AND held_json IS NOT NULL"
                " ORDER BY href",
                (book_id,),
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    def all_held(self, book_id: int) -> list[tuple[str, Json]]:
        """Each contact of the book with fields Aurinko refused or did not remove: (href,
        held fields), by href. For status, which is rare: it reads the book's rows."""
        rows = (
            self.db.connection()
            .execute(
                "SELECT href, held_json FROM contacts WHERE book_id = ? AND held_json IS NOT NULL"
                " ORDER BY href",
                (book_id,),
            )
            .fetchall()
        )
        return [(str(href), held) for href, text in rows if (held := loads(text))]

    def save(self, row: ContactRow) -> bool:
        """Insert or replace the contact at ``row.href``; log a change when its card changed.

        Returns whether the served card changed (a new etag or a new contact).
        """
        with self.db.transaction(row.book_id) as conn:
            old = conn.execute(
                "SELECT etag FROM contacts WHERE book_id = ? AND href = ?", (row.book_id, row.href)
            ).fetchone()
            conn.execute(
                "INSERT INTO contacts (book_id, href, uid, remote_id, remote_etag, remote_json,"
                " contact_json, etag, vcard, shadow, last_modified, version, held_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (book_id, href) DO UPDATE SET uid = excluded.uid,"
                " remote_id = excluded.remote_id, remote_etag = excluded.remote_etag,"
                " remote_json = excluded.remote_json, contact_json = excluded.contact_json,"
                " etag = excluded.etag, vcard = excluded.vcard, shadow = excluded.shadow,"
                " last_modified = excluded.last_modified, version = excluded.version,"
                " held_json = excluded.held_json",
                (
                    row.book_id,
                    row.href,
                    row.uid,
                    row.remote_id,
                    row.remote_etag,
                    dumps(row.remote_json),
                    dumps(row.contact),
                    row.etag,
                    row.vcard,
                    row.shadow,
                    row.last_modified,
                    row.version,
                    dumps(row.held or None),
                ),
            )
            changed = old is None or old["etag"] != row.etag
            if changed:
                self._log(row.book_id, row.href, deleted=False)
            return changed

    def delete(self, book_id: int, href: str) -> bool:
        """Remove the contact and leave a tombstone in the change log; False if absent."""
        with self.db.transaction(book_id) as conn:
            cursor = conn.execute(
                "DELETE FROM contacts WHERE book_id = ? AND href = ?", (book_id, href)
            )
            if cursor.rowcount == 0:
                return False
            self._log(book_id, href, deleted=True)
            return True

    # -- change log -----------------------------------------------------------------------

    def _log(self, book_id: int, href: str, *, deleted: bool) -> None:
        self.db.connection().execute(
            "INSERT INTO changes (book_id, href, deleted) VALUES (?, ?, ?)",
            (book_id, href, int(deleted)),
        )

    def current_seq(self, book_id: int) -> int:
        row = (
            self.db.connection()
            .execute(
                # One row even for an unknown book; the MAX is read off changes_book_seq.
                "SELECT (SELECT MAX(seq) FROM changes WHERE book_id = ?),"
                " (SELECT change_floor FROM books WHERE id = ?)",
                (book_id, book_id),
            )
            .fetchone()
        )
        return max(int(row[0] or 0), int(row[1] or 0))

    def changes_since(self, book_id: int, seq: int) -> tuple[int, list[str]]:
        """The distinct hrefs changed after ``seq`` and the sequence they run up to."""
        with self.db.snapshot() as conn:
            rows = conn.execute(
                "SELECT href, MAX(seq) AS last FROM changes WHERE book_id = ? AND seq > ?"
                " GROUP BY href ORDER BY last",
                (book_id, seq),
            ).fetchall()
            current = self.current_seq(book_id)
        return max(current, seq), [r["href"] for r in rows]

    def prune_changes(self, book_id: int, before_seq: int) -> int:
        """Drop log entries at or below ``before_seq``; older tokens become invalid."""
        with self.db.transaction(book_id) as conn:
            conn.execute(
                "DELETE FROM changes WHERE book_id = ? AND seq <= ?", (book_id, before_seq)
            )
            # Two-argument MAX is SQLite's own (GREATEST, PostgreSQL's): a CASE is both's.
            conn.execute(
                "UPDATE books SET change_floor = CASE WHEN change_floor > ? THEN change_floor"
                " ELSE ? END WHERE id = ?",
                (before_seq, before_seq, book_id),
            )
            return before_seq
