"""The PostgreSQL store (``[store] url``): several bridge instances can share one.

The engine's correctness rests on one writer at a time per book: it reads, decides and
writes inside ``transaction()`` (outbox folding, claims, UID checks, the change log's
order). Here a write transaction of one book (``transaction(book_id)``) first takes that
book's transaction-level advisory lock, and the store's lock shared; any other write
transaction takes the store's lock exclusively. So one book's writers take turns as on
SQLite, its change-log sequence numbers are handed out in commit order (a sync token is one
book's position), and two books' writers never wait for each other; readers take no lock
and never wait. Snapshots are REPEATABLE READ, READ ONLY.

Connections come from a pool: a thread holds one for the length of a transaction or
snapshot; a statement outside either borrows one, in autocommit, for that statement.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from itertools import count
from typing import Any, ClassVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from .interface import Database, StoreError
from .schema import FIRST_POSTGRESQL_VERSION, SCHEMA_VERSION, SchemaTooNewError, statements

# The key of the store's write lock (pg_advisory_xact_lock, single-bigint form): the bytes
# of "bridgeWL". Advisory locks are per database; the two-int4 form's keys never meet the
# single-bigint form's, which leaves that one free for per-book locks.
STORE_LOCK = 0x6272_6964_6765_574C
# A book's write lock: pg_advisory_xact_lock(int4, int4) with this first key ("ABWL") and the
# book id (the owner's session lock, in ``bridge.sync.locks``, has a first key of its own).
BOOK_LOCK = 0x4142_574C

# Connections an instance keeps at most: a CardDAV request holds one only while in a
# transaction or a streamed listing, so a few serve many threads; the pool waits
# POOL_WAIT seconds for one to come free before giving up.
POOL_SIZE = 20
POOL_WAIT = 30.0
CONNECT_TIMEOUT = 10  # seconds, unless the URL says (libpq waits for the OS otherwise)
# How long a writer waits for the store's lock (lock_timeout, which advisory locks obey):
# SQLite's busy timeout, for the same reasons: long enough to ride out another writer,
# short enough that a stuck one surfaces (as a StoreError) rather than hangs every writer.
LOCK_WAIT_MS = 30_000

# Sent without parameters, so in one round trip (psycopg then uses the simple protocol).
_BEGIN_WRITE = f"BEGIN; SELECT pg_advisory_xact_lock({STORE_LOCK})"
_BEGIN_BOOK = f"BEGIN; SELECT pg_advisory_xact_lock_shared({STORE_LOCK})"
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

# The pool logs each borrow and return at INFO, and the store borrows for each statement
# outside a transaction: at -v that would drown the bridge's own lines. Its warnings (a
# connection lost or refused) still show; a level set by the user is theirs.
_POOL_LOG = logging.getLogger("psycopg.pool")
if _POOL_LOG.level == logging.NOTSET:
    _POOL_LOG.setLevel(logging.WARNING)


class PgRow:
    """A row as ``sqlite3.Row`` reads: ``row["col"]``, ``row[0]``, ``Item(*row)``."""

    __slots__ = ("_names", "_values")

    def __init__(self, values: Sequence[Any], names: dict[str, int]) -> None:
        self._values = values
        self._names = names

    def __getitem__(self, key: int | str, /) -> Any:
        return self._values[self._names[key] if isinstance(key, str) else key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._names)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._names, self._values, strict=True))!r})"


def pg_row(cursor: Any) -> RowMaker[PgRow]:  # any psycopg cursor (BaseCursor is private)
    names = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(values, names)

    return make


PgConn = psycopg.Connection[PgRow]

# A string literal or quoted name (copied, its "%" escaped), a "?" or a lone "%".
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[?%]")


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """The store's SQL (``?`` placeholders) for psycopg (``%s``): a ``?`` outside quotes
    becomes ``%s``, and every ``%`` (quoted or not) ``%%``, since psycopg reads them all."""

    def swap(match: re.Match[str]) -> str:
        token = match.group()
        return "%s" if token == "?" else token.replace("%", "%%")

    return _TOKEN.sub(swap, sql)


class _Secret(str):
    """The password, as libpq takes it, that a repr (a dumped object, a traceback's
    locals) does not show."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<password>'"


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass
class _Result:
    """A statement's rows, read before its connection went back to the pool."""

    rows: list[PgRow]
    rowcount: int
    _pos: int = 0

    def fetchone(self) -> PgRow | None:
        if self._pos >= len(self.rows):
            return None
        self._pos += 1
        return self.rows[self._pos - 1]

    def fetchmany(self, size: int = 1, /) -> list[PgRow]:
        found = self.rows[self._pos : self._pos + size]
        self._pos += len(found)
        return found

    def fetchall(self) -> list[PgRow]:
        found = self.rows[self._pos :]
        self._pos = len(self.rows)
        return found

    def __iter__(self) -> Iterator[PgRow]:
        while (row := self.fetchone()) is not None:
            yield row


class _Pinned:
    """The connection a thread holds for one transaction or snapshot."""

    _names = count()

    def __init__(self, conn: PgConn, url: str) -> None:
        self.raw = conn
        self.url = url

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[PgRow]:
        try:
            return self.raw.execute(to_pyformat(sql), parameters)
        except psycopg.OperationalError as exc:
            raise _lost(self.url, exc) from exc

    def executemany(
        self, sql: str, parameters: Iterable[Sequence[Any]], /
    ) -> psycopg.Cursor[PgRow]:
        cursor = self.raw.cursor()
        try:
            cursor.executemany(to_pyformat(sql), list(parameters))
        except psycopg.OperationalError as exc:
            raise _lost(self.url, exc) from exc
        return cursor

    def batches(
        self, sql: str, parameters: Sequence[Any], size: int
    ) -> Generator[list[PgRow], None, None]:
        """Through a server-side cursor, which lives as long as the transaction: the
        caller closes this generator before the transaction ends."""
        name = f"bridge_batches_{next(self._names)}"
        with self.raw.cursor(name=name) as cursor:
            try:
                cursor.execute(to_pyformat(sql), parameters)
                while rows := cursor.fetchmany(size):
                    yield rows
            except psycopg.OperationalError as exc:
                raise _lost(self.url, exc) from exc


class _Borrowing:
    """``connection()`` outside a transaction: each statement on a pooled connection in
    autocommit, its rows read before the connection goes back."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> _Result:
        with self.db.borrow() as conn:
            cursor = conn.execute(to_pyformat(sql), parameters)
            rows = cursor.fetchall() if cursor.description is not None else []
            return _Result(rows, cursor.rowcount)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> _Result:
        with self.db.borrow() as conn, conn.cursor() as cursor:
            cursor.executemany(to_pyformat(sql), list(parameters))
            return _Result([], cursor.rowcount)

    def batches(
        self, sql: str, parameters: Sequence[Any], size: int
    ) -> Generator[list[PgRow], None, None]:
        rows = self.execute(sql, parameters)
        while found := rows.fetchmany(size):
            yield found


class _ThreadState(threading.local):
    pinned: _Pinned | None = None
    depth = 0
    reading = False
    books: frozenset[int] | None = None  # the books locked; None: the whole store


class PostgresDatabase(Database):
    """The store in a PostgreSQL database (or the schema a URL's ``options`` put first on
    the search path), created at the current schema version on first use."""

    kind: ClassVar[str] = "postgresql"

    def __init__(self, url: str, password: str | None = None, *, pool_size: int = POOL_SIZE):
        self.url = url  # holds no password (checked): safe in messages
        self._kwargs = _connect_kwargs(url, password)
        self._local = _ThreadState()
        self._borrowing = _Borrowing(self)
        self.opened = 0  # connections the pool ever opened
        with self.connect() as conn:
            _migrate(conn)
        self._pool: ConnectionPool[PgConn] = ConnectionPool(
            url,
            kwargs={**self._kwargs, "autocommit": True, "row_factory": pg_row},
            min_size=1,
            max_size=pool_size,
            timeout=POOL_WAIT,
            configure=self._configured,
            name="bridge-store",
            open=False,
        )
        self._pool.open()

    def connect(self) -> PgConn:
        """A new connection of its own (autocommit), not from the pool: for what holds one
        for long (session advisory locks, LISTEN). Raises StoreError."""
        try:
            return psycopg.connect(self.url, autocommit=True, row_factory=pg_row, **self._kwargs)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the store at {self.url}: {one_line(exc)}") from exc

    def _configured(self, conn: PgConn) -> None:
        conn.execute(f"SET lock_timeout = {LOCK_WAIT_MS}")
        self.opened += 1

    @contextmanager
    def borrow(self) -> Iterator[PgConn]:
        """A pooled connection for a statement or two, outside any transaction."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreError(
                f"no connection to the store at {self.url} within {POOL_WAIT:g} s"
                f" (PostgreSQL down, or all {self._pool.max_size} in use): {one_line(exc)}"
            ) from exc
        except psycopg.OperationalError as exc:
            raise _lost(self.url, exc) from exc

    def connection(self) -> _Pinned | _Borrowing:
        pinned = self._local.pinned
        return pinned if pinned is not None else self._borrowing

    @contextmanager
    def transaction(self, book_id: int | None = None) -> Iterator[_Pinned]:
        """A write transaction of one book (after that book's other writers, in every
        instance) or, without ``book_id``, of the whole store (after every writer)."""
        state = self._local
        if state.depth:
            if state.reading:
                raise RuntimeError("a write transaction cannot start inside a snapshot")
            assert state.pinned is not None
            self._join_book(state, state.pinned, book_id)
            state.depth += 1
            try:
                yield state.pinned
            finally:
                state.depth -= 1
            return
        begin = _BEGIN_WRITE if book_id is None else f"{_BEGIN_BOOK}; {_book_lock(book_id)}"
        with self._pinned(state, begin, reading=False) as conn:
            state.books = None if book_id is None else frozenset((book_id,))
            yield conn

    @staticmethod
    def _join_book(state: _ThreadState, conn: _Pinned, book_id: int | None) -> None:
        """A nested transaction joins the outer one; a book it names is locked too, unless
        the outer one holds the whole store or that book already. (A nested one without a
        book joins the outer one's books: it writes what they cover.)"""
        if book_id is None or state.books is None or book_id in state.books:
            return
        conn.execute(_book_lock(book_id))
        state.books = state.books | {book_id}

    @contextmanager
    def snapshot(self) -> Iterator[_Pinned]:
        state = self._local
        if state.depth:
            assert state.pinned is not None
            yield state.pinned
            return
        with self._pinned(state, _BEGIN_READ, reading=True) as conn:
            yield conn

    @contextmanager
    def _pinned(self, state: _ThreadState, begin: str, *, reading: bool) -> Iterator[_Pinned]:
        # ``state`` is the entering thread's: a generator holding a snapshot may be
        # finished on another thread, which must not touch its own state.
        with self.borrow() as raw:
            conn = _Pinned(raw, self.url)
            raw.execute(begin)
            state.pinned, state.depth, state.reading = conn, 1, reading
            try:
                yield conn
            except BaseException:
                _rollback(raw)
                raise
            else:
                conn.execute("COMMIT")
            finally:
                state.pinned, state.depth, state.reading = None, 0, False
                state.books = None

    def octet_length(self, column: str) -> str:
        return f"octet_length({column})"

    def ping(self, timeout: float) -> None:
        try:
            with self._pool.connection(timeout=timeout) as conn:
                conn.execute("SELECT 1")
        except PoolTimeout as exc:
            raise StoreError(f"no connection to the store within {timeout:g} s") from exc
        except psycopg.Error as exc:
            raise StoreError(f"the store at {self.url}: {one_line(exc)}") from exc

    def close(self) -> None:
        self._pool.close()


def _book_lock(book_id: int) -> str:
    return f"SELECT pg_advisory_xact_lock({BOOK_LOCK}, {int(book_id)})"


def _connect_kwargs(url: str, password: str | None) -> dict[str, Any]:
    """What psycopg.connect takes besides the URL; refuses a URL holding a password or
    another secret (it would end up in messages and logs) without repeating it."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        # libpq quotes the whole URL in some of these: never shown, it may hold a secret.
        reason = one_line(exc).replace(url, "…")
        raise StoreError(f"invalid store url: {reason}") from None
    if "password" in params:
        raise StoreError(
            "the store url must not contain a password: use [store] password_file or password_env"
        )
    secret = next((key for key in sorted(_secret_parameters()) if key in params), None)
    if secret is not None:
        raise StoreError(f"the store url must not contain {secret}: it is a secret")
    kwargs: dict[str, Any] = {}
    if password is not None:
        kwargs["password"] = _Secret(password)
    if "connect_timeout" not in params:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT
    return kwargs


@lru_cache(maxsize=1)
def _secret_parameters() -> frozenset[str]:
    """libpq's secret connection parameters: those it marks as passwords ("*": password,
    sslpassword, oauth_client_secret in libpq 18), asked of the libpq in use so that a
    newer one's are known too, and the SCRAM keys, which stand for the password."""
    marked = {
        option.keyword.decode()
        for option in psycopg.pq.Conninfo.get_defaults()
        if option.dispchar == b"*"
    }
    return frozenset(marked | {"scram_client_key", "scram_server_key"})


def _lost(url: str, exc: psycopg.OperationalError) -> StoreError:
    return StoreError(f"the store at {url}: {one_line(exc)}")


def _rollback(conn: PgConn) -> None:
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        pass  # a broken connection: the pool drops it when it comes back


# How far the store's migrations went: PostgreSQL has no ``user_version``.
_VERSION_TABLE = (
    "CREATE TABLE schema_version (id BIGINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)"
)


def _migrate(conn: PgConn) -> None:
    """Create the schema in an empty database (every migration, in one transaction), or
    bring it to SCHEMA_VERSION; under the write lock, so that instances starting together
    do it once."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (STORE_LOCK,))
        found = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        if found is None or not found[0]:
            conn.execute(_VERSION_TABLE)
            conn.execute("INSERT INTO schema_version (id, version) VALUES (1, 0)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        current = int(row[0]) if row is not None else 0
        if current > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"store schema version {current} is newer than this release ({SCHEMA_VERSION})"
            )
        if 0 < current < FIRST_POSTGRESQL_VERSION or row is None:
            raise StoreError(f"store schema version {current} is not one this release made")
        for version in range(current, SCHEMA_VERSION):
            for statement in statements(version, "postgresql"):
                conn.execute(statement)
        if current < SCHEMA_VERSION:
            conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION,))


def schema_exists(url: str, password: str | None) -> bool:
    """Whether the store at ``url`` was ever created (nothing is created). StoreError."""
    kwargs = _connect_kwargs(url, password)
    try:
        with psycopg.connect(url, autocommit=True, **kwargs) as conn:
            row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the store at {url}: {one_line(exc)}") from exc
    return bool(row and row[0])
