"""Which bridge instance owns which book of a shared PostgreSQL store: session advisory
locks, held on one connection of the instance's own for as long as it lives.

The lock lives as long as the owner's database session, so an owner that dies (killed,
crashed, its host gone) lets go of its books as soon as the server sees the session end,
and the next instance that asks takes them over. (The write locks of transactions, which
last one transaction, are ``postgres.py``'s.)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("bridge.sync")

# pg_try_advisory_lock(int4, int4): the first key says "a book's owner", the second is the
# book id; the store's own write lock uses the one-bigint form with another value.
OWNER_KEY = 0x41425242  # "ABRB"
INSTANCE_NAME = f"owner {socket.gethostname()[:30]} {os.getpid()}"


class BookOwnership:
    """Session advisory locks on one connection of this instance's own (``connect`` opens
    it, in autocommit: ``PostgresDatabase.connect``). A book once owned stays owned until
    ``close`` or until the session is lost; a new session owns nothing yet."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._conn: Any = None
        self._owned: set[int] = set()
        self._session = threading.Lock()  # one statement at a time on the session

    def try_own(self, book_id: int) -> bool:
        """Whether this instance owns the book (taking it if nobody does)."""
        with self._session:
            if not self._alive():
                return False
            if book_id in self._owned:
                return True
            try:
                row = self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (OWNER_KEY, book_id)
                ).fetchone()
            except Exception as exc:  # the session is gone: so is everything it held
                self._lost(exc)
                return False
            if row[0]:
                self._owned.add(book_id)
                log.info("this instance now syncs book %d", book_id)
            return bool(row[0])

    def owned(self) -> set[int]:
        with self._session:
            return set(self._owned) if self._alive() else set()

    def _alive(self) -> bool:
        """Connected (again, if need be); a new session owns nothing yet."""
        if self._conn is not None and not self._conn.closed:
            return True
        self._owned.clear()
        try:
            self._conn = self._connect()
            # Which instance owns which book, for people and tests reading pg_locks.
            self._conn.execute(
                "SELECT set_config('application_name',"
                " left(ltrim(current_setting('application_name') || ' ' || %s), 63), false)",
                (INSTANCE_NAME,),
            )
        except Exception as exc:
            log.warning("cannot reach the store to own books: %s", exc)
            self._conn = None
            return False
        return True

    def _lost(self, exc: Exception) -> None:
        if self._owned:
            log.warning("store session lost (%s): books %s are free again", exc, self._owned)
        self._owned.clear()
        try:
            self._conn.close()
        finally:
            self._conn = None

    def close(self) -> None:
        with self._session:
            if self._conn is not None:
                self._conn.close()  # the server frees every lock of the session
            self._conn = None
            self._owned.clear()
