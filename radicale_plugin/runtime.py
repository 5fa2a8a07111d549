"""The bridge behind a Radicale instance: one engine per configuration file.

``aurinko-bridge serve`` installs a running bridge before Radicale starts; in a plain
Radicale setup the storage builds it from ``[storage] bridge_config``. Storage and rights
plugins are created separately by Radicale and meet here.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from bridge.config import AccountConfig, Config, load_config
from bridge.runtime import open_engine
from bridge.store import Book
from bridge.store.kinds import BookKind
from bridge.sync import SyncEngine

log = logging.getLogger("radicale")


@dataclass
class Bridge:
    engine: SyncEngine
    config: Config
    # (user, book path parts) -> the last freshness look at them
    _looked: dict[tuple[str, ...], float] = field(default_factory=dict)
    _looked_lock: threading.Lock = field(default_factory=threading.Lock)

    def book(self, user: str, name: str) -> Book | None:
        return self.engine.book(user, name)

    def books(self, user: str) -> list[Book]:
        return self.engine.books(user)

    def _account(self, user: str, name: str) -> AccountConfig | None:
        return next((a for a in self.config.accounts if (a.user, a.name) == (user, name)), None)

    def is_aurinko(self, user: str, name: str) -> bool:
        """Whether ``/user/name/`` is an account's book: from the configuration, no query
        (the rights check asks this several times per request)."""
        return self._account(user, name) is not None

    def display_name(self, book: Book) -> str | None:
        account = self._account(book.owner, book.name)
        return account.display_name if account else None

    def refresh(self, user: str, path: str | None, until: float | None = None) -> None:
        """The throttled freshness pull of the books a read of ``path`` shows.

        A book's own read waits for its pull until ``until`` (monotonic), at most
        ``request_wait`` seconds; a listing of the user's books only starts their pulls; a
        local book never waits. Radicale takes the read lock twice per request: within a
        second of the last look at the same books, the store is not even asked which they
        are or whether they are stale.
        """
        parts = [p for p in (path or "").split("/") if p][:2]
        # A book's path, or every book of the user (listed, or plain Radicale: no path).
        look = (user, *parts) if len(parts) == 2 else (user, "*" if path is None else "")
        now = time.monotonic()
        with self._looked_lock:
            if now - self._looked.get(look, -1e9) < min(self.config.freshness, 1.0):
                return
            self._looked[look] = now
        books, wait = self._shown(user, parts, all_wait=path is None)
        if not wait:
            self.engine.refresh(books, self.config.freshness, 0)
            return
        left = (
            self.config.request_wait
            if until is None
            else min(until - now, self.config.request_wait)
        )
        self.engine.refresh(books, self.config.freshness, max(0.0, left))
        # The throttle counts from the end of the wait: Radicale's second look of a request
        # that waited comes more than a second after its first (plain Radicale has no
        # ``until`` to keep the request's waits to one ``request_wait``).
        with self._looked_lock:
            self._looked[look] = max(self._looked.get(look, now), time.monotonic())

    def _shown(self, user: str, parts: list[str], *, all_wait: bool) -> tuple[list[Book], bool]:
        """The Aurinko books a read of ``/parts/`` serves, and whether it serves their cards
        (then it waits for their pulls a little): one book, or all the user's (without a
        path, in plain Radicale, waiting for them too)."""
        if len(parts) == 2:
            book = self.book(parts[0], parts[1]) if parts[0] == user else None
            return ([book] if book is not None and book.kind == BookKind.AURINKO else []), True
        return [b for b in self.books(user) if b.kind == BookKind.AURINKO], all_wait


_bridges: dict[str, Bridge] = {}
_lock = threading.Lock()


def install(key: str, bridge: Bridge) -> None:
    with _lock:
        _bridges[key] = bridge


def uninstall(key: str) -> None:
    with _lock:
        _bridges.pop(key, None)


def bridge_for(key: str) -> Bridge:
    """The bridge for the configuration file ``key``, started on first use."""
    with _lock:
        if key not in _bridges:
            config = load_config(key)
            engine, _ = open_engine(config)
            engine.start(config.interval)
            log.info("aurinko bridge started from %s", key)
            _bridges[key] = Bridge(engine, config)
        return _bridges[key]
