"""WebDAV-Push's store on both backends: subscriptions (one per book and push resource),
expiry, each subscribed book's change-log position, and the VAPID key kept in ``meta``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.config import StoreConfig
from bridge.push.vapid import META_KEY, Vapid, new_private_key
from bridge.store import ContactRow, ContactStore, open_database
from bridge.store.push import PushStore, Subscription, SubscriptionLimit


@pytest.fixture
def store(tmp_path: Path, store_config: StoreConfig | None) -> Iterator[ContactStore]:
    opened = ContactStore(open_database(tmp_path, store_config))
    yield opened
    opened.db.close()


def _subscribe(
    push: PushStore,
    book_id: int,
    endpoint: str,
    *,
    owner: str = "alice",
    expires: float = 1000.0,
    limit: int | None = None,
) -> tuple[Subscription, bool]:
    return push.register(
        book_id=book_id,
        owner=owner,
        endpoint=endpoint,
        public_key="key",
        auth_secret="auth",
        content_encoding="aes128gcm",
        expires=expires,
        now=100.0,
        limit=limit,
    )


def _register(push: PushStore, book_id: int, endpoint: str, expires: float = 1000.0) -> int:
    return _subscribe(push, book_id, endpoint, expires=expires)[0].id


def _save(store: ContactStore, book_id: int, href: str) -> None:
    store.save(
        ContactRow(
            book_id=book_id,
            href=href,
            uid=f"uid-{href}",
            contact={"nickName": href},
            etag=f'"{href}"',
            vcard=f"BEGIN:VCARD\r\nUID:uid-{href}\r\nEND:VCARD\r\n",
            last_modified=1.0,
        )
    )


def test_one_subscription_per_book_and_push_resource(store: ContactStore) -> None:
    push = PushStore(store.db)
    work = store.ensure_book("alice", "work", "local")
    home = store.ensure_book("alice", "home", "local")
    first, created = push.register(
        book_id=work.id,
        owner="alice",
        endpoint="https://push.example/a",
        public_key="k1",
        auth_secret="s1",
        content_encoding="aes128gcm",
        expires=500.0,
        now=100.0,
    )
    assert created and first.created == 100.0 and first.last_sent is None
    again, created = push.register(
        book_id=work.id,
        owner="alice",
        endpoint="https://push.example/a",
        public_key="k2",
        auth_secret="s2",
        content_encoding="aes128gcm",
        expires=900.0,
        now=200.0,
    )
    assert not created and again.id == first.id
    assert (again.public_key, again.auth_secret, again.expires) == ("k2", "s2", 900.0)
    other_book = _register(push, home.id, "https://push.example/a")
    assert other_book != first.id  # the same push resource on another book: its own
    assert [s.id for s in push.live(work.id, 150.0)] == [first.id]
    push.mark_sent([first.id], 300.0)
    assert push.get(first.id).last_sent == 300.0  # type: ignore[union-attr]
    assert push.delete(first.id) and not push.delete(first.id)
    assert push.get(first.id) is None


def test_expired_subscriptions_are_not_live_and_are_purged(store: ContactStore) -> None:
    push = PushStore(store.db)
    book = store.ensure_book("alice", "work", "local")
    soon = _register(push, book.id, "https://push.example/soon", expires=200.0)
    later = _register(push, book.id, "https://push.example/later", expires=400.0)
    assert [s.id for s in push.live(book.id, 300.0)] == [later]
    assert push.positions(300.0) == {book.id: 0}
    assert push.positions(500.0) == {}  # no live subscriber: not watched
    assert push.purge_expired(300.0) == 1
    assert push.get(soon) is None and push.get(later) is not None


def test_positions_follow_each_subscribed_books_change_log(store: ContactStore) -> None:
    push = PushStore(store.db)
    work = store.ensure_book("alice", "work", "local")
    home = store.ensure_book("alice", "home", "local")
    _register(push, work.id, "https://push.example/a")
    _save(store, work.id, "a.vcf")
    _save(store, home.id, "b.vcf")  # nobody listens to home
    _save(store, work.id, "c.vcf")
    assert push.positions(0.0) == {work.id: store.current_seq(work.id)}
    top = store.current_seq(work.id)
    assert [href for _, href in push.changes(work.id, 0, top)] == ["a.vcf", "c.vcf"]
    store.prune_changes(work.id, top)
    assert push.positions(0.0) == {work.id: top}  # the floor keeps the position
    store.delete_book(work.id)
    assert push.positions(0.0) == {}  # its subscriptions went with it


def test_the_vapid_key_is_made_once_per_store(store: ContactStore) -> None:
    push = PushStore(store.db)
    keys: list[str] = []
    threads = [
        threading.Thread(target=lambda: keys.append(Vapid.of_store(push).public_key))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert Vapid.of_store(PushStore(store.db)).public_key == keys[0]
    assert push.meta_value(META_KEY, new_private_key) == push.meta_value(META_KEY, lambda: "x")


def test_a_new_subscription_past_the_owners_limit_is_refused(store: ContactStore) -> None:
    push = PushStore(store.db)
    work = store.ensure_book("alice", "work", "local")
    home = store.ensure_book("alice", "home", "local")

    def register(book_id: int, endpoint: str, owner: str = "alice", expires: float = 1e3) -> bool:
        return _subscribe(push, book_id, endpoint, owner=owner, expires=expires, limit=2)[1]

    assert register(work.id, "https://push.example/a")
    assert register(home.id, "https://push.example/b")  # the limit spans the user's books
    with pytest.raises(SubscriptionLimit):
        register(work.id, "https://push.example/c")
    assert not register(work.id, "https://push.example/a")  # a renewal is no new one
    bobs = store.ensure_book("bob", "work", "local")
    assert register(bobs.id, "https://push.example/c", owner="bob")  # his own count
    assert register(bobs.id, "https://push.example/d", owner="bob", expires=50.0)  # expired
    assert register(bobs.id, "https://push.example/e", owner="bob")  # only live ones count
