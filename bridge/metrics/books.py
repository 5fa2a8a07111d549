"""The per-book and per-account states, read from the store when Prometheus scrapes."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..store import Book
from ..sync import SyncEngine
from .counters import Metrics

LABELS = ["user", "book"]  # never a contact's data: a series per book, not per card


class BookCollector(Collector):
    """Labelled by user and book. A book never pulled (or never pushed to) reads +Inf
    seconds since, so an alert on "not pulled for 15 minutes" also fires for it."""

    def __init__(self, engine: SyncEngine, metrics: Metrics) -> None:
        self.engine = engine
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = _families()
        now = time.time()
        for book in self.engine.store.list_books(None):
            self._book(book, now, families)
        yield from families.values()
        owned = self.engine.instances.owned()
        if owned is not None:
            yield GaugeMetricFamily(
                "bridge_books_owned",
                "Books this instance syncs (each book has one owner among the instances)",
                value=len(owned),
            )

    def _book(self, book: Book, now: float, families: dict[str, GaugeMetricFamily]) -> None:
        labels = [book.owner, book.name]
        outbox, engine = self.engine.outbox, self.engine
        families["outbox"].add_metric(labels, outbox.count(book.id))
        families["parked"].add_metric(labels, len(outbox.failed(book.id)))
        families["conflicts"].add_metric(labels, len(outbox.conflicts(book.id, unresolved=True)))
        if book.kind != "aurinko":
            return  # a local book is never pulled or pushed
        families["pull"].add_metric(labels, _since(book.last_pull, now))
        families["push"].add_metric(labels, _since(book.last_push, now))
        families["lag"].add_metric(labels, engine.runner.pull_lag(book.id))
        client = engine.clients.get(book.id)
        if client is not None:
            families["breaker"].add_metric(labels, 1.0 if client.paused_for() > 0 else 0.0)
        dead = self.metrics.token_dead(book.owner, book.name)
        families["token"].add_metric(labels, 1.0 if dead else 0.0)


def _since(when: float | None, now: float) -> float:
    return math.inf if when is None else max(0.0, now - when)


def _families() -> dict[str, GaugeMetricFamily]:
    def gauge(name: str, text: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, text, labels=LABELS)

    return {
        "outbox": gauge("bridge_book_outbox_depth", "Writes waiting to go up to Aurinko"),
        "parked": gauge(
            "bridge_book_parked_writes", "Writes Aurinko refused, waiting for a person"
        ),
        "conflicts": gauge(
            "bridge_book_kept_conflicts", "Conflicts whose losing side was kept, unresolved"
        ),
        "pull": gauge("bridge_book_seconds_since_pull", "Seconds since the last successful pull"),
        "push": gauge(
            "bridge_book_seconds_since_push", "Seconds since a write last reached Aurinko"
        ),
        "lag": gauge(
            "bridge_book_pull_lag_seconds",
            "Seconds the oldest pull asked for (webhook, stale read, schedule) has waited",
        ),
        "breaker": gauge(
            "bridge_book_breaker_open",
            "1 while the book's Aurinko account is found unreachable and backed off",
        ),
        "token": gauge(
            "bridge_book_token_dead",
            "1 when Aurinko's last answer said the account's token is dead (account relink)",
        ),
    }
