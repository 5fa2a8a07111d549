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
from bridge.sync import SyncEngine

log = logging.getLogger("radicale")

# How long a read waits for a sync of its book that is already running (etesync-dav's
# figure): long enough for an incremental pull, short enough for a client not to time out.
READ_WAIT = 5.0


@dataclass
class Bridge:
    engine: SyncEngine
    config: Config
    _looked: dict[str, float] = field(default_factory=dict)  # user -> last freshness look
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

    def refresh(self, user: str) -> None:
        """The throttled freshness pull of a user's Aurinko books, before any lock.

        Radicale takes the read lock twice per request; within a second of the last look,
        the store is not even asked whether a book is stale.
        """
        now = time.monotonic()
        with self._looked_lock:
            if now - self._looked.get(user, -1e9) < min(self.config.freshness, 1.0):
                return
            self._looked[user] = now
        for book in self.books(user):
            if book.kind == "aurinko":
                self.engine.pull_if_stale(book, self.config.freshness, wait=READ_WAIT)


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
