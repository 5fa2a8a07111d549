"""SQLite persistence: accounts, contacts, the change log, OAuth authorization codes and
webhook subscriptions.

The change log is folded into the contacts table: every write gives the contact the
account's next sequence number, and a delete keeps the row as a tombstone. So "what
changed after seq S" is an indexed range scan, and compaction is deleting tombstones
and raising the account's floor.

One connection, guarded by one lock, serves every thread: the sandbox is small, and a
single writer makes each check-then-write (e.g. If-Match then PATCH) atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bridge.sandbox.tokens import Chain

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL DEFAULT 0,
    floor INTEGER NOT NULL DEFAULT 0,
    seeded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS contacts (
    account INTEGER NOT NULL REFERENCES accounts(id),
    id TEXT NOT NULL,
    etag TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    photo TEXT,
    deleted TEXT,
    PRIMARY KEY (account, id)
);
CREATE INDEX IF NOT EXISTS contacts_by_seq ON contacts (account, seq, id);
CREATE TABLE IF NOT EXISTS auth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    service_type TEXT NOT NULL,
    scopes TEXT NOT NULL,
    return_url TEXT NOT NULL,
    expires REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
-- AUTOINCREMENT: the id of a deleted subscription is never handed out again, so a late
-- notification of a deleted subscription can never pass for one of its successor.
CREATE TABLE IF NOT EXISTS subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account INTEGER NOT NULL REFERENCES accounts(id),
    resource TEXT NOT NULL,
    notification_url TEXT NOT NULL,
    filters TEXT NOT NULL,
    created TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    failures INTEGER NOT NULL DEFAULT 0,
    fail_since TEXT,
    fail_description TEXT
);
CREATE INDEX IF NOT EXISTS subscriptions_by_account ON subscriptions (account, id);
"""

# Columns added after the first release: a database made before them gets them by ALTER.
# ``service_type`` and ``scopes`` (JSON) are NULL for accounts of configured tokens; a
# deleted account keeps its row (so its id is never handed out again) but not its token.
# ``token_status`` is NULL while the grant is active, else ``invalid`` or ``dead`` (set by
# the test hook that kills a grant; a re-authorization makes it active again). A code's
# ``account`` is the account it re-authorizes (``accountId`` on authorize), else NULL.
_ADDED_COLUMNS = {
    "accounts": {
        "service_type": "TEXT",
        "scopes": "TEXT",
        "created": "TEXT",
        "deleted": "TEXT",
        "token_status": "TEXT",
    },
    "auth_codes": {"account": "INTEGER"},
}

_COLUMNS = "id, etag, created, modified, seq, data, photo, deleted"


def _make_private(path: str) -> None:
    """The database holds contacts: 0600 before SQLite opens it, whatever the umask (SQLite
    gives its -wal and -shm files the database file's permissions). Files left by an older
    version lose their group and other bits. (The bridge's own helper is not shared: the
    sandbox shares no code with the bridge.)"""
    if path == ":memory:" or path.startswith("file:") or not path:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        try:
            if os.stat(path + suffix).st_mode & 0o077:
                os.chmod(path + suffix, 0o600)
        except FileNotFoundError:
            pass


def token_hash(token: str) -> str:
    """What the database keeps instead of a bearer token (and what logs may show a prefix of)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AccountRow:
    id: int
    service_type: str | None
    scopes: list[str] | None
    created: str | None
    token_status: str = "active"


@dataclass(frozen=True)
class CodeRow:
    """An authorization code, as stored: everything the consent granted, and its state."""

    client_id: str
    service_type: str
    scopes: list[str]
    return_url: str
    expires: float
    used: bool
    account: int | None = None  # the account it re-authorizes


@dataclass(frozen=True)
class SubscriptionRow:
    """A webhook subscription, as stored. ``failures`` counts failed delivery attempts in a
    row; ``fail_since`` (RFC 3339) is when that run of failures began."""

    id: int
    account: int
    resource: str
    notification_url: str
    filters: list[str]
    created: str
    active: bool
    failures: int
    fail_since: str | None
    fail_description: str | None


_SUBSCRIPTION_COLUMNS = (
    "id, account, resource, notification_url, filters, created, active, failures, "
    "fail_since, fail_description"
)


def _subscription(values: tuple[Any, ...]) -> SubscriptionRow:
    ident, account, resource, url, filters, created, active, failures, since, why = values
    return SubscriptionRow(
        ident, account, resource, url, json.loads(filters), created, bool(active), failures,
        since, why,
    )  # fmt: skip


@dataclass(frozen=True)
class ContactRow:
    """One stored contact; ``data`` holds the client-writable fields, spec names only."""

    id: str
    etag: str
    created: str
    modified: str
    seq: int
    data: dict[str, Any]
    photo: dict[str, Any] | None
    deleted: str | None


def _row(values: sqlite3.Row | tuple[Any, ...]) -> ContactRow:
    cid, etag, created, modified, seq, data, photo, deleted = values
    return ContactRow(
        cid, etag, created, modified, seq, json.loads(data),
        json.loads(photo) if photo is not None else None, deleted,
    )  # fmt: skip


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _values(row: ContactRow) -> tuple[Any, ...]:
    """The stored columns of ``row`` after its id, in ``_COLUMNS`` order."""
    photo = _dumps(row.photo) if row.photo is not None else None
    return (row.etag, row.created, row.modified, row.seq, _dumps(row.data), photo, row.deleted)


class Store:
    """All SQL lives here; callers group calls in ``transaction()``."""

    def __init__(self, path: str) -> None:
        self._lock = threading.RLock()
        _make_private(path)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit
            # survives a crash of the sandbox's process (what a restart must keep), only
            # a power loss could undo the last few. Enough for a local sandbox, and
            # it spares every write an fsync (~0.5 ms).
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)
        self._depth = 0
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        with self.transaction():
            for table, columns in _ADDED_COLUMNS.items():
                info = self._conn.execute(f"PRAGMA table_info({table})")
                present = {row[1] for row in info}
                for name, kind in columns.items():
                    if name not in present:
                        self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock and one SQLite transaction; nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def _one(self, sql: str, *params: Any) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return row[0] if row is not None else None

    # --- meta and accounts -------------------------------------------------------------

    def secret(self) -> bytes:
        """The token-signing secret, created once per database."""
        with self.transaction():
            value = self._one("SELECT value FROM meta WHERE key = 'token_secret'")
            if value is None:
                value = secrets.token_hex(32)
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('token_secret', ?)", (value,)
                )
        return bytes.fromhex(value)

    def ensure_account(self, token: str, created: str) -> int:
        """The account of a configured token, made on first sight (or after its deletion)."""
        digest = token_hash(token)
        with self.transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO accounts (token_hash, created) VALUES (?, ?)",
                (digest, created),
            )
            # Accounts made before ``created`` existed date from their first start since.
            self._conn.execute(
                "UPDATE accounts SET created = ? WHERE token_hash = ? AND created IS NULL",
                (created, digest),
            )
            account: int = self._one("SELECT id FROM accounts WHERE token_hash = ?", digest)
        return account

    def account_by_token(self, digest: str) -> int | None:
        """The live account whose token hashes to ``digest``: one indexed read, no write
        transaction, as every API request asks it."""
        with self._lock:
            account: int | None = self._one("SELECT id FROM accounts WHERE token_hash = ?", digest)
        return account

    def create_account(
        self, digest: str, service_type: str, scopes: list[str], created: str
    ) -> int:
        """A new, empty account for a token issued by the OAuth flow."""
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO accounts (token_hash, service_type, scopes, created) "
                "VALUES (?, ?, ?, ?)",
                (digest, service_type, _dumps(scopes), created),
            )
            account = cursor.lastrowid
        assert account is not None
        return account

    def account(self, account: int) -> AccountRow:
        with self.transaction():
            service_type, scopes, created, status = self._conn.execute(
                "SELECT service_type, scopes, created, token_status FROM accounts WHERE id = ?",
                (account,),
            ).fetchone()
        return AccountRow(
            account,
            service_type,
            json.loads(scopes) if scopes is not None else None,
            created,
            status or "active",
        )

    def token_status(self, account: int) -> str:
        """``active``, ``invalid`` or ``dead``: whether the provider's grant still works."""
        with self._lock:
            status: str | None = self._one(
                "SELECT token_status FROM accounts WHERE id = ?", account
            )
        return status or "active"

    def set_token_status(self, account: int, status: str) -> None:
        with self.transaction():
            self._conn.execute(
                "UPDATE accounts SET token_status = ? WHERE id = ?",
                (None if status == "active" else status, account),
            )

    def revoke_token(self, account: int) -> None:
        """The account's token stops working and its grant is dead; the account, its
        contacts and subscriptions stay, to be re-authorized by its id."""
        with self.transaction():
            # Not a hex digest, so no token can ever hash to it again.
            self._conn.execute(
                "UPDATE accounts SET token_hash = 'revoked:' || id, token_status = 'dead'"
                " WHERE id = ?",
                (account,),
            )

    def is_live(self, account: int) -> bool:
        with self.transaction():
            found = self._conn.execute(
                "SELECT 1 FROM accounts WHERE id = ? AND deleted IS NULL", (account,)
            ).fetchone()
        return found is not None

    def reauthorize(self, account: int, digest: str, service_type: str, scopes: list[str]) -> bool:
        """The live ``account`` gets a new token (the old one no longer works) and an active
        grant; its contacts, change log and subscriptions stay. False if it is gone."""
        with self.transaction():
            cursor = self._conn.execute(
                "UPDATE accounts SET token_hash = ?, token_status = NULL, service_type = ?,"
                " scopes = ? WHERE id = ? AND deleted IS NULL",
                (digest, service_type, _dumps(scopes), account),
            )
        return cursor.rowcount == 1

    def live_accounts(self) -> list[int]:
        with self.transaction():
            rows = self._conn.execute(
                "SELECT id FROM accounts WHERE deleted IS NULL ORDER BY id"
            ).fetchall()
        return [row[0] for row in rows]

    def delete_account(self, account: int, when: str) -> None:
        """Drop the account's contacts and token; the row stays so the id is never reused
        (sync tokens name their account by id)."""
        with self.transaction():
            self._conn.execute("DELETE FROM contacts WHERE account = ?", (account,))
            self._conn.execute("DELETE FROM subscriptions WHERE account = ?", (account,))
            # Not a hex digest, so no token can ever hash to it again.
            self._conn.execute(
                "UPDATE accounts SET token_hash = 'deleted:' || id, deleted = ? WHERE id = ?",
                (when, account),
            )

    # --- webhook subscriptions ---------------------------------------------------------

    def add_subscription(
        self, account: int, resource: str, notification_url: str, filters: list[str], created: str
    ) -> SubscriptionRow:
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO subscriptions (account, resource, notification_url, filters, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (account, resource, notification_url, _dumps(filters), created),
            )
            ident = cursor.lastrowid
        assert ident is not None
        return SubscriptionRow(
            ident, account, resource, notification_url, list(filters), created, True, 0, None, None
        )

    def subscription(self, ident: int) -> SubscriptionRow | None:
        with self.transaction():
            row = self._conn.execute(
                f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?", (ident,)
            ).fetchone()
        return _subscription(row) if row is not None else None

    def subscriptions(
        self, account: int | None, include_inactive: bool = True
    ) -> list[SubscriptionRow]:
        """One account's subscriptions (None: every account's), ordered by id."""
        where, params = [], []
        if account is not None:
            where.append("account = ?")
            params.append(account)
        if not include_inactive:
            where.append("active = 1")
        sql = f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.transaction():
            rows = self._conn.execute(sql + " ORDER BY id", params).fetchall()
        return [_subscription(row) for row in rows]

    def delete_subscription(self, account: int, ident: int) -> bool:
        """Remove one of the account's subscriptions; False if it has none of that id."""
        with self.transaction():
            cursor = self._conn.execute(
                "DELETE FROM subscriptions WHERE id = ? AND account = ?", (ident, account)
            )
        return cursor.rowcount == 1

    def record_delivery(
        self,
        ident: int,
        failures: int,
        fail_since: str | None,
        fail_description: str | None,
        active: bool,
    ) -> bool:
        """Keep a subscription's delivery state; True if it changed. Only an active one
        changes: a late delivery result never revives a deleted or deactivated one."""
        with self.transaction():
            cursor = self._conn.execute(
                "UPDATE subscriptions SET failures = ?, fail_since = ?, fail_description = ?, "
                "active = ? WHERE id = ? AND active = 1",
                (failures, fail_since, fail_description, int(active), ident),
            )
        return cursor.rowcount == 1

    def reactivate(self, ident: int) -> bool:
        """An inactive subscription active again, its failures forgotten; True if it was
        inactive (a deleted one stays deleted)."""
        with self.transaction():
            cursor = self._conn.execute(
                "UPDATE subscriptions SET failures = 0, fail_since = NULL, "
                "fail_description = NULL, active = 1 WHERE id = ? AND active = 0",
                (ident,),
            )
        return cursor.rowcount == 1

    # --- authorization codes -----------------------------------------------------------

    def save_code(self, digest: str, grant: CodeRow, forget_before: float) -> None:
        """Keep a new code; codes that expired before ``forget_before`` are forgotten."""
        with self.transaction():
            self._conn.execute("DELETE FROM auth_codes WHERE expires < ?", (forget_before,))
            self._conn.execute(
                "INSERT INTO auth_codes (code_hash, client_id, service_type, scopes, return_url, "
                "expires, used, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (digest, grant.client_id, grant.service_type, _dumps(grant.scopes),
                 grant.return_url, grant.expires, int(grant.used), grant.account),
            )  # fmt: skip

    def code(self, digest: str) -> CodeRow | None:
        with self.transaction():
            row = self._conn.execute(
                "SELECT client_id, service_type, scopes, return_url, expires, used, account "
                "FROM auth_codes WHERE code_hash = ?",
                (digest,),
            ).fetchone()
        if row is None:
            return None
        client_id, service_type, scopes, return_url, expires, used, account = row
        return CodeRow(
            client_id, service_type, json.loads(scopes), return_url, expires, bool(used), account
        )

    def mark_code_used(self, digest: str) -> None:
        with self.transaction():
            self._conn.execute("UPDATE auth_codes SET used = 1 WHERE code_hash = ?", (digest,))

    def current_seq(self, account: int) -> int:
        with self.transaction():
            seq: int = self._one("SELECT seq FROM accounts WHERE id = ?", account)
        return seq

    def floor(self, account: int) -> int:
        with self.transaction():
            floor: int = self._one("SELECT floor FROM accounts WHERE id = ?", account)
        return floor

    def next_seq(self, account: int) -> int:
        with self.transaction():
            self._conn.execute("UPDATE accounts SET seq = seq + 1 WHERE id = ?", (account,))
            seq: int = self._one("SELECT seq FROM accounts WHERE id = ?", account)
        return seq

    def is_seeded(self, account: int) -> bool:
        with self.transaction():
            seeded = self._one("SELECT seeded FROM accounts WHERE id = ?", account)
        return bool(seeded)

    def mark_seeded(self, account: int) -> None:
        with self.transaction():
            self._conn.execute("UPDATE accounts SET seeded = 1 WHERE id = ?", (account,))

    def has_any_contact(self, account: int) -> bool:
        """True if the account holds any row at all, live or tombstone."""
        with self.transaction():
            found = self._one("SELECT 1 FROM contacts WHERE account = ? LIMIT 1", account)
        return found is not None

    def compact(self, account: int) -> int:
        """Drop all tombstones and raise the floor to the current sequence; return it."""
        with self.transaction():
            self._conn.execute(
                "DELETE FROM contacts WHERE account = ? AND deleted IS NOT NULL", (account,)
            )
            self._conn.execute("UPDATE accounts SET floor = seq WHERE id = ?", (account,))
            floor: int = self._one("SELECT floor FROM accounts WHERE id = ?", account)
        return floor

    # --- contacts ----------------------------------------------------------------------

    def get(self, account: int, contact_id: str) -> ContactRow | None:
        """A live contact, or None (unknown or deleted)."""
        with self.transaction():
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM contacts WHERE account = ? AND id = ? AND deleted IS NULL",
                (account, contact_id),
            ).fetchone()
        return _row(row) if row is not None else None

    def put(self, account: int, row: ContactRow) -> None:
        """Insert or replace a contact row (its ``seq`` must come from ``next_seq``)."""
        with self.transaction():
            self._conn.execute(
                f"INSERT OR REPLACE INTO contacts (account, {_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (account, row.id, *_values(row)),
            )

    def update(self, account: int, row: ContactRow) -> None:
        """Overwrite a stored row (live or tombstone) with ``row``, which has its id.

        Same result as ``put``, in about half the time: REPLACE deletes the row and
        inserts it anew, so every index of the table changes twice; UPDATE rewrites the
        row in place and moves only the (seq) index entry.
        """
        with self.transaction():
            cursor = self._conn.execute(
                "UPDATE contacts SET etag = ?, created = ?, modified = ?, seq = ?, data = ?, "
                "photo = ?, deleted = ? WHERE account = ? AND id = ?",
                (*_values(row), account, row.id),
            )
            if cursor.rowcount != 1:
                raise LookupError(f"no stored contact {row.id!r} to update")

    def changes(
        self, account: int, chain: Chain, start: int, high: int, after: tuple[int, str], limit: int
    ) -> list[ContactRow]:
        """Rows of one chain whose last change is in (start, high], after ``after``.

        Ordered by (seq, id) so that a (seq, id) cursor resumes exactly where a page ended.
        """
        deleted = "IS NULL" if chain == "updated" else "IS NOT NULL"
        with self.transaction():
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM contacts WHERE account = ? AND deleted {deleted} "
                "AND seq > ? AND seq <= ? AND (seq, id) > (?, ?) ORDER BY seq, id LIMIT ?",
                (account, start, high, after[0], after[1], limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def live_after(self, account: int, after_id: str, limit: int | None) -> list[ContactRow]:
        """Live contacts ordered by id, after ``after_id`` (the list endpoint and dumps)."""
        with self.transaction():
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM contacts WHERE account = ? AND deleted IS NULL "
                "AND id > ? ORDER BY id LIMIT ?",
                (account, after_id, -1 if limit is None else limit),
            ).fetchall()
        return [_row(r) for r in rows]
