"""Wiring a configuration into a running engine: one Aurinko client per account."""

from __future__ import annotations

from collections.abc import Callable

from .aurinko import AurinkoClient, Breaker
from .aurinko.calls import CallObserver
from .config import AccountConfig, Config
from .store import Book
from .sync import EngineOptions, SyncEngine
from .tokens import TokenSource

BookKey = tuple[str, str]  # (user, account name): a name alone is not unique


def open_engine(
    config: Config, observer: Callable[[AccountConfig], CallObserver | None] | None = None
) -> tuple[SyncEngine, dict[BookKey, Book]]:
    """The engine over ``config.data_dir`` with every account attached, by (user, name).
    ``observer(account)`` is told of each of the account's calls (health, metrics).

    Raises ConfigError when a token (or the store's password) cannot be read, StoreError
    when the store cannot be reached.
    """
    tokens = {key(account): TokenSource(account) for account in config.accounts}
    options = EngineOptions(
        policy=config.conflict,
        request_wait=config.request_wait,
        write_wait=config.write_wait,
    )
    engine = SyncEngine(config.data_dir, options=options, store=config.store)
    books: dict[BookKey, Book] = {}
    for account in config.accounts:
        # One breaker per account: an Aurinko found unreachable is backed off once, not
        # found out again by every request.
        client = AurinkoClient(
            tokens[key(account)],
            account.base_url,
            breaker=Breaker(),
            observer=observer(account) if observer is not None else None,
        )
        books[key(account)] = engine.attach(
            account.user, account.name, client, vcard_version=account.vcard_version
        )
    return engine, books


def key(account: AccountConfig) -> BookKey:
    return (account.user, account.name)
