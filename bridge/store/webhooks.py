"""Each Aurinko book's webhook subscription at Aurinko (``webhook_subscriptions``).

A book's notification URL ends in a random token of its own (``/.bridge/webhooks/aurinko/
{token}``): the URL, not the notification's body, says which book changed. The URL is
recorded before the subscription is asked for (``subscription_id`` empty meanwhile), so
that any instance sharing the store can answer Aurinko's validation request, which comes
before the subscription's id is known; renewals keep it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from .interface import Database, Row

TOKEN = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16)


@dataclass(frozen=True)
class WebhookRow:
    book_id: int
    subscription_id: str  # "" while none is known (being asked for, or refused)
    notification_url: str
    created: float  # when the subscription was made (or the URL first recorded)
    checked: float  # when it was last seen active at Aurinko

    @property
    def token(self) -> str:
        return self.notification_url.rsplit("/", 1)[-1]

    @classmethod
    def from_row(cls, row: Row) -> WebhookRow:
        return cls(
            book_id=row["book_id"],
            subscription_id=row["subscription_id"],
            notification_url=row["notification_url"],
            created=row["created"],
            checked=row["checked"],
        )


class WebhookStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, book_id: int) -> WebhookRow | None:
        row = (
            self.db.connection()
            .execute("SELECT * FROM webhook_subscriptions WHERE book_id = ?", (book_id,))
            .fetchone()
        )
        return WebhookRow.from_row(row) if row else None

    def all(self) -> list[WebhookRow]:
        rows = (
            self.db.connection()
            .execute("SELECT * FROM webhook_subscriptions ORDER BY book_id")
            .fetchall()
        )
        return [WebhookRow.from_row(r) for r in rows]

    def book_of_token(self, token: str) -> int | None:
        """The book whose notification URL ends in ``token``; None for an unknown one (or
        anything that is not a token at all)."""
        if not TOKEN.fullmatch(token):
            return None  # hex only: nothing in it is special to LIKE
        rows = (
            self.db.connection()
            .execute(
                "SELECT book_id, notification_url FROM webhook_subscriptions"
                " WHERE notification_url LIKE ?",
                ("%/" + token,),
            )
            .fetchall()
        )
        for row in rows:
            if row["notification_url"].rsplit("/", 1)[-1] == token:
                return int(row["book_id"])
        return None

    def record_url(self, book_id: int, url: str) -> WebhookRow:
        """Record the book's notification URL, unless it has one already (then kept: two
        instances racing to record one agree on the first); the book's row as it is."""
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO webhook_subscriptions (book_id, subscription_id, notification_url,"
                " created, checked) VALUES (?, '', ?, ?, ?) ON CONFLICT (book_id) DO NOTHING",
                (book_id, url, now, now),
            )
        row = self.get(book_id)
        assert row is not None
        return row

    def replace_url(self, book_id: int, url: str) -> WebhookRow:
        """A new notification URL for the book (the public URL changed); no subscription."""
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO webhook_subscriptions (book_id, subscription_id, notification_url,"
                " created, checked) VALUES (?, '', ?, ?, ?) ON CONFLICT (book_id) DO UPDATE SET"
                " subscription_id = '', notification_url = excluded.notification_url,"
                " created = excluded.created, checked = excluded.checked",
                (book_id, url, now, now),
            )
        row = self.get(book_id)
        assert row is not None
        return row

    def subscribed(self, book_id: int, subscription_id: str) -> None:
        """The book's subscription is now ``subscription_id`` (just made)."""
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE webhook_subscriptions SET subscription_id = ?, created = ?, checked = ?"
                " WHERE book_id = ?",
                (subscription_id, now, now, book_id),
            )

    def checked(self, book_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE webhook_subscriptions SET checked = ? WHERE book_id = ?",
                (time.time(), book_id),
            )

    def forget_subscription(self, book_id: int) -> None:
        """The subscription is gone (lapsed, removed); the URL stays for the next one."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE webhook_subscriptions SET subscription_id = '' WHERE book_id = ?",
                (book_id,),
            )

    def delete(self, book_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM webhook_subscriptions WHERE book_id = ?", (book_id,))
