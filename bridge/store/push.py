"""WebDAV-Push subscriptions (``push_subscriptions``): the Web Push endpoints and keys that
clients registered on address books, and the server's VAPID key pair (in ``meta``, so that
every instance sharing a store signs alike). One SQL for both backends, ``?`` placeholders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..words import count
from .interface import Database, Row

_COLUMNS = (
    "id, book_id, owner, endpoint, public_key, auth_secret, content_encoding, expires,"
    " created, last_sent"
)
# Not expired at ``now`` (a parameter): no expiry means until removed.
_LIVE = "(expires IS NULL OR expires > ?)"


class SubscriptionLimit(Exception):
    """The user holds as many live subscriptions as a user may."""


@dataclass(frozen=True)
class Subscription:
    id: int
    book_id: int
    owner: str  # the CardDAV user who registered it (the book's owner)
    endpoint: str  # the Web Push "push resource" URL
    public_key: str  # the client's P-256 ECDH key (p256dh), uncompressed, base64url
    auth_secret: str  # its 16-byte authentication secret, base64url
    content_encoding: str  # "aes128gcm"
    expires: float | None
    created: float
    last_sent: float | None

    @classmethod
    def from_row(cls, row: Row) -> Subscription:
        return cls(*row)


class PushStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the server's own keys ------------------------------------------------------

    def meta_value(self, key: str, make: Callable[[], str]) -> str:
        """``meta[key]``, set to ``make()`` the first time; when two instances make one at
        once, both end up with the first one stored."""
        conn = self.db.connection()
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return str(row[0])
        value = make()
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, value),
            )
            row = tx.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    # -- subscriptions --------------------------------------------------------------

    def register(
        self,
        *,
        book_id: int,
        owner: str,
        endpoint: str,
        public_key: str,
        auth_secret: str,
        content_encoding: str,
        expires: float,
        now: float,
        limit: int | None = None,
    ) -> tuple[Subscription, bool]:
        """The book's subscription for ``endpoint``, new (True) or updated with these keys
        and expiry (False): one per push resource and book. A new one is refused
        (SubscriptionLimit) when ``owner`` already holds ``limit`` live ones; the count
        and the insert share a transaction of the whole store, so none slips past it."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM push_subscriptions WHERE book_id = ? AND endpoint = ?",
                (book_id, endpoint),
            ).fetchone()
            if row is None and limit is not None:
                (held,) = conn.execute(
                    f"SELECT COUNT(*) FROM push_subscriptions WHERE owner = ? AND {_LIVE}",
                    (owner, now),
                ).fetchone()
                if int(held) >= limit:
                    raise SubscriptionLimit(f"{owner} holds {count(int(held), 'subscription')}")
            if row is None:
                row = conn.execute(
                    "INSERT INTO push_subscriptions (book_id, owner, endpoint, public_key,"
                    " auth_secret, content_encoding, expires, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        book_id,
                        owner,
                        endpoint,
                        public_key,
                        auth_secret,
                        content_encoding,
                        expires,
                        now,
                    ),
                ).fetchone()
                created = True
            else:
                conn.execute(
                    "UPDATE push_subscriptions SET owner = ?, public_key = ?, auth_secret = ?,"
                    " content_encoding = ?, expires = ? WHERE id = ?",
                    (owner, public_key, auth_secret, content_encoding, expires, row[0]),
                )
                created = False
            stored = conn.execute(
                f"SELECT {_COLUMNS} FROM push_subscriptions WHERE id = ?", (row[0],)
            ).fetchone()
        return Subscription.from_row(stored), created

    def get(self, subscription_id: int) -> Subscription | None:
        row = (
            self.db.connection()
            .execute(f"SELECT {_COLUMNS} FROM push_subscriptions WHERE id = ?", (subscription_id,))
            .fetchone()
        )
        return Subscription.from_row(row) if row is not None else None

    def delete(self, subscription_id: int) -> bool:
        with self.db.transaction() as conn:
            cursor = conn.execute("DELETE FROM push_subscriptions WHERE id = ?", (subscription_id,))
            return cursor.rowcount > 0

    def live(self, book_id: int, now: float) -> list[Subscription]:
        """The book's subscriptions that have not expired at ``now``."""
        rows = (
            self.db.connection()
            .execute(
                f"SELECT {_COLUMNS} FROM push_subscriptions WHERE book_id = ? AND {_LIVE}"
                " ORDER BY id",
                (book_id, now),
            )
            .fetchall()
        )
        return [Subscription.from_row(r) for r in rows]

    def positions(self, now: float) -> dict[int, int]:
        """Each book with a live subscription -> its change-log position (what
        ``ContactStore.current_seq`` says), in one query."""
        rows = (
            self.db.connection()
            .execute(
                "SELECT b.id, (SELECT MAX(c.seq) FROM changes c WHERE c.book_id = b.id),"
                " b.change_floor FROM books b WHERE b.id IN"
                f" (SELECT book_id FROM push_subscriptions WHERE {_LIVE})",
                (now,),
            )
            .fetchall()
        )
        return {int(r[0]): max(int(r[1] or 0), int(r[2] or 0)) for r in rows}

    def changes(self, book_id: int, after: int, upto: int) -> list[tuple[int, str]]:
        """The book's change-log entries (seq, href) in ``(after, upto]``."""
        rows = (
            self.db.connection()
            .execute(
                "SELECT seq, href FROM changes WHERE book_id = ? AND seq > ? AND seq <= ?"
                " ORDER BY seq",
                (book_id, after, upto),
            )
            .fetchall()
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def mark_sent(self, subscription_ids: Iterable[int], when: float) -> None:
        ids = list(subscription_ids)
        if not ids:
            return
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE push_subscriptions SET last_sent = ? WHERE id = ?",
                [(when, i) for i in ids],
            )

    def purge_expired(self, now: float) -> int:
        """Drop the subscriptions expired at ``now``; how many."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM push_subscriptions WHERE expires IS NOT NULL AND expires <= ?",
                (now,),
            )
            return max(0, cursor.rowcount)
