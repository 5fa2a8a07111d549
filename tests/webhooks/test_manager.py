"""``WebhookManager`` against a stand-in for Aurinko's subscriptions API: subscribing,
renewal of lapsed subscriptions, stale ones removed, failures logged once per change, and
books taken over checked soon."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.aurinko import BadRequestError, NotFoundError, UnavailableError
from bridge.aurinko.models import Subscription
from bridge.store import Book
from bridge.store.webhooks import WebhookStore
from bridge.sync import EngineOptions, SyncEngine
from bridge.webhooks import RESOURCE, WebhookManager, url_prefix
from tests.wait import eventually
from tests.webhooks.conftest import webhooks_config


class FakeAurinko:
    """One account's subscriptions; ``fail`` makes the next calls raise it."""

    def __init__(self) -> None:
        self.subs: dict[str, Subscription] = {}
        self.ids = itertools.count(100)
        self.fail: Exception | None = None
        self.calls: list[str] = []

    def add(self, url: str, *, active: bool = True) -> Subscription:
        sub = Subscription(str(next(self.ids)), RESOURCE, url, active)
        self.subs[sub.id] = sub
        return sub

    def _call(self, what: str) -> None:
        self.calls.append(what)
        if self.fail is not None:
            raise self.fail

    def subscriptions(self) -> list[Subscription]:
        self._call("list")
        return list(self.subs.values())

    def subscribe(self, resource: str, url: str) -> Subscription:
        self._call("subscribe")
        assert resource == "/contacts"
        return self.add(url)

    def unsubscribe(self, subscription_id: str) -> None:
        self._call(f"unsubscribe {subscription_id}")
        if self.subs.pop(subscription_id, None) is None:
            raise NotFoundError("no such subscription", status=404)

    def lapse(self, subscription_id: str) -> None:
        sub = self.subs[subscription_id]
        self.subs[subscription_id] = Subscription(sub.id, sub.resource, sub.notification_url, False)

    def paused_for(self) -> float:
        return 0.0


class Locks:
    """Book ownership the test decides (as PostgreSQL's would be decided by instances)."""

    def __init__(self, owned: set[int]) -> None:
        self.owned = owned

    def try_own(self, book_id: int) -> bool:
        return book_id in self.owned

    def hold(self, book_id: int, timeout: float | None = None) -> Any:
        raise AssertionError("the manager never syncs")

    def close(self) -> None:
        pass


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[SyncEngine]:
    engine = SyncEngine(tmp_path / "bridge", options=EngineOptions(takeover_check=0.1))
    yield engine
    engine.close()


def book(engine: SyncEngine, name: str) -> tuple[Book, FakeAurinko]:
    found = engine.store.ensure_book("alice", name, "aurinko")
    fake = FakeAurinko()
    engine.clients[found.id] = fake  # type: ignore[assignment]
    return found, fake


def test_a_book_is_subscribed_once_and_recorded(engine: SyncEngine, tmp_path: Path) -> None:
    work, aurinko = book(engine, "work")
    config = webhooks_config(tmp_path)
    manager = WebhookManager(engine, config)
    sub = manager.check(work.id)
    assert sub is not None and list(aurinko.subs) == [sub.id]
    assert sub.notification_url.startswith(url_prefix(config))
    row = WebhookStore(engine.db).get(work.id)
    assert row is not None and (row.subscription_id, row.notification_url) == (
        sub.id,
        sub.notification_url,
    )
    assert manager.check(work.id) == sub  # all is well: nothing made
    assert aurinko.calls == ["list", "subscribe", "list"]


def test_lapsed_and_vanished_subscriptions_are_renewed(engine: SyncEngine, tmp_path: Path) -> None:
    work, aurinko = book(engine, "work")
    manager = WebhookManager(engine, webhooks_config(tmp_path))
    first = manager.check(work.id)
    assert first is not None
    aurinko.lapse(first.id)
    second = manager.check(work.id)
    assert second is not None and second.id != first.id
    assert second.notification_url == first.notification_url  # the book keeps its URL
    assert list(aurinko.subs) == [second.id]  # the lapsed one is removed
    del aurinko.subs[second.id]  # deleted at Aurinko by someone
    third = manager.check(work.id)
    assert third is not None and list(aurinko.subs) == [third.id]
    assert WebhookStore(engine.db).get(work.id).subscription_id == third.id  # type: ignore[union-attr]


def test_stale_subscriptions_of_ours_are_removed_and_others_left(
    engine: SyncEngine, tmp_path: Path
) -> None:
    work, aurinko = book(engine, "work")
    home, _ = book(engine, "home")
    config = webhooks_config(tmp_path)
    prefix = url_prefix(config)
    hooks = WebhookStore(engine.db)
    hooks.record_url(home.id, prefix + "b" * 32)  # another book of the same account
    row = hooks.record_url(work.id, prefix + "a" * 32)
    duplicate = aurinko.add(row.notification_url)
    kept_duplicate = aurinko.add(row.notification_url)
    hooks.subscribed(work.id, kept_duplicate.id)
    leftover = aurinko.add(prefix + "c" * 32)  # of an earlier run: no book has it
    other_book = aurinko.add(prefix + "b" * 32)
    someone_else = aurinko.add("https://crm.example.com/hooks/contacts")
    not_a_token = aurinko.add(prefix + "manual")

    current = WebhookManager(engine, config).check(work.id)
    assert current == kept_duplicate  # the recorded one is kept
    assert set(aurinko.subs) == {kept_duplicate.id, other_book.id, someone_else.id, not_a_token.id}
    assert duplicate.id not in aurinko.subs and leftover.id not in aurinko.subs


def test_a_new_public_url_moves_the_subscription(engine: SyncEngine, tmp_path: Path) -> None:
    work, aurinko = book(engine, "work")
    old = WebhookManager(engine, webhooks_config(tmp_path)).check(work.id)
    assert old is not None
    moved = webhooks_config(tmp_path, "https://new.example.org/carddav")
    new = WebhookManager(engine, moved).check(work.id)
    assert new is not None
    assert new.notification_url.startswith("https://new.example.org/carddav/.bridge/webhooks/")
    assert new.notification_url.rsplit("/", 1)[1] == old.notification_url.rsplit("/", 1)[1]
    assert list(aurinko.subs) == [new.id]  # the one to the old URL is removed
    aurinko.add("http://[::1")  # a URL that is no URL is nobody's: left alone
    assert WebhookManager(engine, moved).check(work.id) == new
    assert len(aurinko.subs) == 2


def test_failures_are_logged_once_and_tried_again(
    engine: SyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work, aurinko = book(engine, "work")
    manager = WebhookManager(engine, webhooks_config(tmp_path))
    aurinko.fail = BadRequestError("POST subscriptions: 400 notification URL validation failed")
    with caplog.at_level(logging.INFO, logger="bridge.webhooks"):
        assert manager.check(work.id) is None
        assert manager.check(work.id) is None
        warned = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warned) == 1 and "validation failed" in warned[0].getMessage()
        assert "polling goes on" in warned[0].getMessage()
        aurinko.fail = UnavailableError("GET subscriptions: 503")
        assert manager.check(work.id) is None  # another failure: logged, once
        assert manager.check(work.id) is None
        aurinko.fail = None
        assert manager.check(work.id) is not None
        assert manager.check(work.id) is not None
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 3 and "subscribed again" in messages[2]
    row = WebhookStore(engine.db).get(work.id)
    assert row is not None and row.subscription_id in aurinko.subs


def test_only_owned_books_and_taken_over_ones_soon(engine: SyncEngine, tmp_path: Path) -> None:
    work, work_aurinko = book(engine, "work")
    home, home_aurinko = book(engine, "home")
    locks = Locks({work.id})
    engine.locks = locks
    manager = WebhookManager(engine, webhooks_config(tmp_path, check_interval=3600))
    manager.start()
    try:
        eventually(lambda: len(work_aurinko.subs) == 1)
        time.sleep(0.3)
        assert home_aurinko.calls == []  # another instance's book
        locks.owned.add(home.id)  # that instance went away: this one took the book
        started = time.monotonic()
        eventually(lambda: len(home_aurinko.subs) == 1)
        assert time.monotonic() - started < 2
        assert work_aurinko.calls == ["list", "subscribe"]  # not due again for an hour
    finally:
        manager.stop()


def test_checks_come_every_check_interval(engine: SyncEngine, tmp_path: Path) -> None:
    _, aurinko = book(engine, "work")
    manager = WebhookManager(engine, webhooks_config(tmp_path, check_interval=0.3))
    manager.start()
    try:
        eventually(lambda: len(aurinko.subs) == 1)
        (first,) = aurinko.subs
        aurinko.lapse(first)
        eventually(lambda: any(s.active for s in aurinko.subs.values()))
        assert first not in aurinko.subs
    finally:
        manager.stop()


def test_a_failure_quoting_the_url_is_logged_without_its_token(
    engine: SyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 21: Aurinko's error for a failed URL check quotes the URL, whose token is the
    book's secret; it is logged (at the default level) with the token redacted."""
    work, aurinko = book(engine, "work")
    config = webhooks_config(tmp_path)
    manager = WebhookManager(engine, config)
    token = "5e" * 16
    WebhookStore(engine.db).record_url(work.id, url_prefix(config) + token)
    aurinko.fail = BadRequestError(
        f"POST subscriptions: 400 Notification URL validation failed: {url_prefix(config)}"
        f"{token} answered HTTP 404, not 200"
    )
    with caplog.at_level(logging.WARNING, logger="bridge.webhooks"):
        assert manager.check(work.id) is None
    (warned,) = caplog.records
    assert token not in warned.getMessage()
    assert "/.bridge/webhooks/aurinko/<token> answered HTTP 404" in warned.getMessage()


def test_recheck_checks_a_book_at_once_between_rounds(engine: SyncEngine, tmp_path: Path) -> None:
    """A notification reporting an error makes the manager check that book now, not at
    its next round an hour away."""
    _, aurinko = book(engine, "work")
    manager = WebhookManager(engine, webhooks_config(tmp_path, check_interval=3600))
    manager.start()
    try:
        eventually(lambda: len(aurinko.subs) == 1)
        (first,) = aurinko.subs
        aurinko.lapse(first)
        work_id = next(iter(engine.clients))
        manager.recheck(work_id)
        eventually(lambda: any(s.active for s in aurinko.subs.values()))
        assert first not in aurinko.subs
    finally:
        manager.stop()
