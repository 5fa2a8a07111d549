"""The store's one interface over its two backends, SQLite (a file in the data directory,
the default) and PostgreSQL (``[store] url``), so that the store's code is written once.
It imports neither backend: they implement it, and ``database.open_database`` picks one.

The store's SQL is written once, in the dialect both accept, with ``?`` placeholders; rows
are read by column name or position (``row["etag"]``, ``row[0]``, ``Item(*row)``) on both.
Both backends give the engine the same guarantee: one write transaction at a time per book
(on SQLite, one at all), across threads and processes, and reads that never wait for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol


class StoreError(RuntimeError):
    """The store cannot be reached or used (PostgreSQL down, refused, misconfigured); the
    message is one line that names the store, never its password."""


class Row(Protocol):
    """A result row: by column name or position, and iterable over its values (what
    ``sqlite3.Row`` does, and what the PostgreSQL backend's rows do)."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ..., /) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the store runs statements on: ``sqlite3.Connection``'s methods it uses."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    def batches(
        self, sql: str, parameters: Sequence[Any], size: int
    ) -> Generator[list[Any], None, None]:
        """The rows of a query ``size`` at a time, without holding them all in memory;
        other statements may run on the connection between two batches. Inside a
        ``snapshot()`` (PostgreSQL reads them through a server-side cursor)."""
        ...


class StoreLocation(Protocol):
    """Where a PostgreSQL store is (``bridge.config.StoreConfig``)."""

    @property
    def url(self) -> str: ...
    def read_password(self) -> str | None: ...


class Database(ABC):
    """Connections per thread and explicit transactions over one store.

    ``connection()`` serves single statements (each its own transaction when not inside
    one); ``transaction(book_id)`` is a write transaction of one book, one at a time per
    book across every thread and process using the store, and ``transaction()`` one of the
    whole store, alone; nested calls join the outer one. ``snapshot()`` is a read
    transaction: several queries see one state, without waiting for a writer.
    """

    kind: ClassVar[str]  # "sqlite" | "postgresql"
    opened: int  # connections ever opened: stays small however many threads come

    @abstractmethod
    def connection(self) -> Connection: ...

    @abstractmethod
    def transaction(self, book_id: int | None = None) -> AbstractContextManager[Connection]: ...

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Connection]: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def ping(self, timeout: float) -> None:
        """One trivial query; raises StoreError unless the store answers. ``timeout``
        bounds the wait for a connection (the health check bounds the whole)."""

    @abstractmethod
    def octet_length(self, column: str) -> str:
        """SQL for the UTF-8 byte length of a text column: SQLite before 3.43 has no
        ``octet_length`` and PostgreSQL has no BLOB, so no one expression serves both."""
