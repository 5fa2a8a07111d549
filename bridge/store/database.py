"""Which backend holds a data directory's store: SQLite by default, PostgreSQL when
``[store] url`` says so. The backends are imported here, inside the functions that pick
them, so that psycopg is loaded only when a PostgreSQL store is configured."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .interface import Database, StoreLocation

if TYPE_CHECKING:  # the type only: importing it loads psycopg
    from .postgres import PostgresDatabase

# The store's file in the data directory, when the store is SQLite.
STORE_FILE = "store.sqlite3"


def open_database(data_dir: Path, store: StoreLocation | None) -> Database:
    """The store of a data directory: ``store.sqlite3`` in it, or the PostgreSQL store
    ``store`` (``[store]`` of the configuration). Raises StoreError (PostgreSQL cannot be
    reached), ConfigError (its password cannot be read) or SchemaTooNewError."""
    if store is None:
        from .sqlite import SQLiteDatabase

        return SQLiteDatabase(data_dir / STORE_FILE)
    # Imported only when configured: SQLite users never load psycopg.
    from .postgres import PostgresDatabase

    return PostgresDatabase(store.url, store.read_password())


def store_exists(data_dir: Path, store: StoreLocation | None) -> bool:
    """Whether the store was ever created (without creating it): the commands that only
    look at what a store holds skip a missing one. PostgreSQL must answer (StoreError)."""
    if store is None:
        return (data_dir / STORE_FILE).exists()
    from .postgres import schema_exists

    return schema_exists(store.url, store.read_password())


def shared_store(db: Database) -> PostgresDatabase | None:
    """``db`` as a store several instances may share (PostgreSQL: they take turns through
    its advisory locks and ask each other through its notifications), or None (SQLite:
    every process is on one machine)."""
    if db.kind != "postgresql":
        return None
    from .postgres import PostgresDatabase  # loaded already: ``db`` is one

    assert isinstance(db, PostgresDatabase)
    return db
