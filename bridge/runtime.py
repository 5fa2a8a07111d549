"""Wiring a configuration into a running engine: one Aurinko client per account."""

from __future__ import annotations

from .aurinko import AurinkoClient
from .config import Config
from .store import Book
from .sync import EngineOptions, SyncEngine


def open_engine(config: Config) -> tuple[SyncEngine, dict[str, Book]]:
    """The engine over ``config.data_dir`` with every account attached, by account name.

    Raises ConfigError when a token cannot be read.
    """
    tokens = {account.name: account.read_token() for account in config.accounts}
    engine = SyncEngine(config.data_dir, options=EngineOptions(policy=config.conflict))
    books: dict[str, Book] = {}
    for account in config.accounts:
        client = AurinkoClient(tokens[account.name], account.base_url)
        books[account.name] = engine.attach(
            account.user, account.name, client, vcard_version=account.vcard_version
        )
    return engine, books
