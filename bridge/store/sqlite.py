"""The SQLite store: one file per data directory, a connection per thread."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from ..private import make_private, private_dir, private_file
from .interface import Database, StoreError
from .schema import SCHEMA_VERSION, SchemaTooNewError, statements

# Long enough to ride out another process's write transaction (a server and a folder
# watcher share one data directory); short enough that a stuck writer surfaces.
BUSY_TIMEOUT_MS = 30_000


# Idle connections kept for the next thread; a thread-per-request server would otherwise
# open (and keep) one connection per request.
MAX_IDLE = 8


class SQLiteConnection(sqlite3.Connection):
    """``sqlite3.Connection`` plus what the store's interface adds (``batches``)."""

    def batches(
        self, sql: str, parameters: Sequence[Any], size: int
    ) -> Generator[list[Any], None, None]:
        cursor = self.execute(sql, parameters)
        while rows := cursor.fetchmany(size):
            yield rows


class SQLiteDatabase(Database):
    """Thread-safe access to one store file.

    Each live thread holds its own connection (sqlite3 connections must not be shared while
    a transaction is open); when the thread ends, its connection goes back to a small pool
    for the next one. WAL lets readers proceed while one writer commits; BEGIN IMMEDIATE
    makes writers take turns, whichever process they are in.
    """

    kind: ClassVar[str] = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._idle: list[SQLiteConnection] = []
        self._all: list[SQLiteConnection] = []
        self._released: deque[SQLiteConnection] = deque()  # by ended threads, not yet pooled
        self._lock = threading.Lock()
        # This process's writers take turns here, each handed the turn at once; SQLite's own
        # wait for its write lock (busy_timeout) polls with sleeps of 1 to 100 ms, which a
        # PUT meeting the background push's commit paid as latency.
        self._writer = threading.Lock()
        self.opened = 0  # connections ever opened: stays small however many threads come
        _make_private(self.path)
        _migrate(self.connection())

    def _open(self) -> SQLiteConnection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, factory=SQLiteConnection
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Reads are served from the OS page cache anyway; a large per-connection cache
        # only multiplies memory by the number of pooled connections.
        conn.execute("PRAGMA cache_size = -1024")
        self.opened += 1

        self._all.append(conn)
        return conn

    def connection(self) -> SQLiteConnection:
        conn: SQLiteConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                self._pool_released()
                conn = self._idle.pop() if self._idle else self._open()
            self._local.conn = conn
            self._local.depth = 0
            self._local.reading = False
            # Runs once the thread is gone: nothing can be using the connection any more.
            weakref.finalize(threading.current_thread(), self._release, conn)
        return conn

    def _release(self, conn: SQLiteConnection) -> None:
        """A finalizer: the garbage collector runs it in whatever thread it happens to be,
        possibly one holding ``_lock`` (inside ``connection``), so it takes no lock; the
        connection is pooled by the next ``connection``."""
        self._released.append(conn)

    def _pool_released(self) -> None:
        """Pool (or close, past ``MAX_IDLE``) what ended threads left (lock held)."""
        while self._released:
            conn = self._released.popleft()
            if conn not in self._all:
                continue  # closed meanwhile
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
            else:
                self._all.remove(conn)
                conn.close()

    @contextmanager
    def transaction(self, book_id: int | None = None) -> Iterator[SQLiteConnection]:
        """A write transaction (BEGIN IMMEDIATE); nested calls join the outer one. SQLite
        has one writer at a time whatever the book: ``book_id`` only says which a
        transaction writes (PostgreSQL locks that book alone)."""
        conn = self.connection()
        if self._local.depth:
            if self._local.reading:
                raise RuntimeError("a write transaction cannot start inside a snapshot")
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        # Bounded: a writer stuck elsewhere is left to SQLite's busy timeout to report.
        turn = self._writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._local.depth = 0
        finally:
            if turn:
                self._writer.release()

    @contextmanager
    def snapshot(self) -> Iterator[SQLiteConnection]:
        """A read transaction: several queries see one state, without taking the write lock."""
        conn = self.connection()
        if self._local.depth:
            yield conn
            return
        conn.execute("BEGIN DEFERRED")
        self._local.depth = 1
        self._local.reading = True
        try:
            yield conn
        finally:
            self._local.depth = 0
            self._local.reading = False
            conn.execute("COMMIT")

    def octet_length(self, column: str) -> str:
        return f"length(CAST({column} AS BLOB))"

    def ping(self, timeout: float) -> None:
        try:
            self.connection().execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"the store {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._idle.clear()
            self._released.clear()
        self._local = threading.local()


def _make_private(path: str) -> None:
    """The store holds contacts: its folder (the data directory) 0700, the file 0600 before
    SQLite opens it. SQLite gives the -wal, -shm and -journal files the database file's
    permissions, whatever the umask; those left by an older version are tightened here."""
    if path == ":memory:" or path.startswith("file:") or not path:
        return
    private_dir(Path(path).parent)
    private_file(Path(path))
    for suffix in ("-wal", "-shm", "-journal"):
        make_private(Path(path + suffix))


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring ``conn``'s database up to ``SCHEMA_VERSION``, one transaction per step."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"store schema version {current} is newer than this release ({SCHEMA_VERSION})"
        )
    for version in range(current, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] > version:
                conn.execute("ROLLBACK")
                continue
            for statement in statements(version, "sqlite"):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
