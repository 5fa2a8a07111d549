"""``webhook_subscriptions`` through ``WebhookStore``, on both store backends."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from unittest.mock import ANY

from bridge.config import StoreConfig
from bridge.store import ContactStore, open_database
from bridge.store.webhooks import WebhookStore

URL = "https://bridge.example.org/.bridge/webhooks/aurinko/"
TOKEN_A = "0123456789abcdef0123456789abcdef"
TOKEN_B = "fedcba9876543210fedcba9876543210"


def test_a_books_row_from_url_to_subscription(
    tmp_path: Path, store_config: StoreConfig | None
) -> None:
    db = open_database(tmp_path, store_config)
    try:
        books = ContactStore(db)
        work = books.ensure_book("alice", "work", "aurinko")
        home = books.ensure_book("alice", "home", "aurinko")
        hooks = WebhookStore(db)
        assert hooks.get(work.id) is None and hooks.book_of_token(TOKEN_A) is None

        row = hooks.record_url(work.id, URL + TOKEN_A)
        assert (row.subscription_id, row.token) == ("", TOKEN_A)
        # A second instance racing to record another URL gets the first one.
        assert hooks.record_url(work.id, URL + TOKEN_B).notification_url == URL + TOKEN_A
        hooks.record_url(home.id, URL + TOKEN_B)
        assert hooks.book_of_token(TOKEN_A) == work.id
        assert hooks.book_of_token(TOKEN_B) == home.id

        hooks.subscribed(work.id, "42")
        assert hooks.get(work.id) == replace(row, subscription_id="42", created=ANY, checked=ANY)
        hooks.forget_subscription(work.id)
        assert hooks.get(work.id).subscription_id == ""  # type: ignore[union-attr]

        new = hooks.replace_url(
            work.id, "https://other.example/.bridge/webhooks/aurinko/" + "1" * 32
        )
        assert new.token == "1" * 32 and hooks.book_of_token(TOKEN_A) is None
        assert [r.book_id for r in hooks.all()] == sorted([work.id, home.id])

        books.delete_book(home.id)  # the row goes with its book
        assert hooks.book_of_token(TOKEN_B) is None
        hooks.delete(work.id)
        assert hooks.all() == []
    finally:
        db.close()


def test_only_tokens_are_looked_up(tmp_path: Path) -> None:
    db = open_database(tmp_path, None)
    try:
        book = ContactStore(db).ensure_book("alice", "work", "aurinko")
        hooks = WebhookStore(db)
        hooks.record_url(book.id, URL + TOKEN_A)
        for probe in ("%", "_" * 32, TOKEN_A[:-1] + "%", TOKEN_A.upper(), "", TOKEN_A + "/"):
            assert hooks.book_of_token(probe) is None, probe
    finally:
        db.close()
