"""The store's schema on SQLite, as an ordered list of migrations; ``user_version`` counts
them. PostgreSQL stores start at the current version (``pgschema``): a new migration is
appended here and there, under the same version number."""

from __future__ import annotations

import sqlite3

from .interface import StoreError

# Append only: a released migration is never edited, so every data directory can be
# brought forward from whatever version it was written with.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE books (
        id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('aurinko', 'local')),
        props TEXT NOT NULL DEFAULT '{}',
        vcard_version TEXT NOT NULL DEFAULT '3.0',
        updated_token TEXT,
        deleted_token TEXT,
        resync_generation INTEGER NOT NULL DEFAULT 0,
        resync_running INTEGER NOT NULL DEFAULT 0,
        change_floor INTEGER NOT NULL DEFAULT 0,
        last_pull REAL,
        UNIQUE (owner, name)
    );

    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
        href TEXT NOT NULL,
        uid TEXT NOT NULL,
        remote_id TEXT,
        remote_etag TEXT,
        remote_json TEXT,
        contact_json TEXT NOT NULL,
        etag TEXT NOT NULL,
        vcard TEXT NOT NULL,
        shadow TEXT,
        last_modified REAL NOT NULL,
        seen_generation INTEGER NOT NULL DEFAULT 0,
        UNIQUE (book_id, href),
        UNIQUE (book_id, uid)
    );
    CREATE UNIQUE INDEX contacts_remote ON contacts (book_id, remote_id)
        WHERE remote_id IS NOT NULL;

    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
        href TEXT NOT NULL,
        deleted INTEGER NOT NULL
    );
    CREATE INDEX changes_book_seq ON changes (book_id, seq);

    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
        href TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete')),
        remote_id TEXT,
        base_etag TEXT,
        base_json TEXT,
        local_json TEXT,
        uncertain INTEGER NOT NULL DEFAULT 0,
        claimed INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX outbox_book ON outbox (book_id, failed, id);
    CREATE INDEX outbox_href ON outbox (book_id, href);

    CREATE TABLE conflicts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
        href TEXT NOT NULL,
        outcome TEXT NOT NULL,
        fields TEXT NOT NULL,
        lost_json TEXT,
        lost_vcard TEXT,
        created REAL NOT NULL
    );
    """,
    # 2: vCard folders kept in sync with a book (export / watch): what each file held
    # when the bridge last wrote or read it, so its own writes and real edits differ.
    """
    CREATE TABLE folder_files (
        folder TEXT NOT NULL,
        book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
        filename TEXT NOT NULL,
        href TEXT NOT NULL,
        etag TEXT NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (folder, filename)
    );
    CREATE INDEX folder_files_href ON folder_files (folder, book_id, href);
    CREATE TABLE folder_state (
        folder TEXT NOT NULL,
        book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        PRIMARY KEY (folder, book_id)
    );
    """,
    # 3: listings (PROPFIND, sync-collection) read a card's name, UID, etag and date from
    # this index alone: in the table they sit behind the JSON and vCard columns, and
    # reaching them read every card's overflow pages.
    """
    CREATE INDEX contacts_listing ON contacts (book_id, href, uid, etag, last_modified);
    """,
    # 4: a card is stored and served in the vCard version its writer used (issue 12), so
    # each row says which version its served text is in; only a read of that text needs
    # it, so the listing index stays as it is. Until now every card was rendered in its
    # book's version: existing rows are labelled with the version their stored text is in
    # (right after BEGIN:VCARD, where the renderer puts it), so that text and its etag,
    # which clients hold, stay valid; a card takes its writer's version at its next write.
    """
    ALTER TABLE contacts ADD COLUMN version TEXT NOT NULL DEFAULT '3.0';
    UPDATE contacts SET version = '4.0'
        WHERE instr(substr(vcard, 1, 40), char(10) || 'VERSION:4.0') > 0;
    """,
    # 5: each pending write retries on its own schedule (issue 13): one that Aurinko keeps
    # failing waits its own backoff instead of holding back every write behind it.
    """
    ALTER TABLE outbox ADD COLUMN not_before REAL NOT NULL DEFAULT 0;
    """,
    # 6: a full listing interrupted (a rate limit, a crash) resumes from its last applied
    # page instead of page 1: the page token to ask for next, and the deleted chain's start.
    """
    ALTER TABLE books ADD COLUMN resync_resume TEXT;
    """,
    # 7: fields of a card that Aurinko refused (a provider limit: a fourth email for Office
    # 365): the rest of the contact went up; these stay in the card, are merged back into it
    # when a remote change is rendered, and are not sent again until the user changes them.
    """
    ALTER TABLE contacts ADD COLUMN held_json TEXT;
    """,
    # 8: what the status command and page show (issue 14): when a write last reached
    # Aurinko, where each conflict's losing card was written, and the conflicts a user has
    # settled (kept for the record, no longer shown).
    """
    ALTER TABLE books ADD COLUMN last_push REAL;
    ALTER TABLE conflicts ADD COLUMN path TEXT;
    ALTER TABLE conflicts ADD COLUMN resolved REAL;
    """,
    # 9: real time (issue 16): each Aurinko book's webhook subscription at Aurinko, and the
    # WebDAV-Push subscriptions clients registered on books (Web Push endpoints and keys).
    # The VAPID key pair lives in ``meta``: every instance sharing a store signs alike.
    """
    CREATE TABLE webhook_subscriptions (
        book_id INTEGER PRIMARY KEY REFERENCES books(id) ON DELETE CASCADE,
        subscription_id TEXT NOT NULL,
        notification_url TEXT NOT NULL,
        created REAL NOT NULL,
        checked REAL NOT NULL
    );
    CREATE TABLE push_subscriptions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        public_key TEXT NOT NULL,
        auth_secret TEXT NOT NULL,
        content_encoding TEXT NOT NULL DEFAULT 'aes128gcm',
        expires REAL,
        created REAL NOT NULL,
        last_sent REAL,
        UNIQUE (book_id, endpoint)
    );
    """,
]


SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(StoreError):
    """The data directory was written by a newer release; refuse rather than corrupt it."""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring ``conn``'s database up to ``SCHEMA_VERSION``, one transaction per step."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"store schema version {current} is newer than this release ({SCHEMA_VERSION})"
        )
    for version in range(current, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] > version:
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
