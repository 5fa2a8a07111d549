"""Copying a SQLite store into an empty PostgreSQL store (``aurinko-bridge store copy``):
every row of every table, ids and all, in one transaction, so that a household's install
moves to PostgreSQL with its local books, queued writes, kept conflicts and sync state.

Ids are copied as they are (the rows refer to each other by them, and a client's sync
token is a position in the change log), and each identity sequence is then set past the
highest id SQLite ever handed out (``sqlite_sequence``, which counts deleted rows too), so
that no new row takes a number an old one had. The store's ``epoch`` comes along in
``meta``: sync tokens handed out before the move stay valid after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .interface import Connection, StoreError
from .postgres import PostgresDatabase
from .sqlite import SQLiteDatabase

# Every table of the schema, parents before the rows that refer to them, each with its
# identity column (None: a natural key). A table added by a migration must be added here
# (tests/cli/test_store_copy.py checks the list against the schema).
TABLES: tuple[tuple[str, str | None], ...] = (
    ("meta", None),
    ("books", "id"),
    ("contacts", "id"),
    ("changes", "seq"),
    ("outbox", "id"),
    ("conflicts", "id"),
    ("folder_files", None),
    ("folder_state", None),
    ("webhook_subscriptions", None),
    ("push_subscriptions", "id"),
)
BATCH = 500  # rows read and inserted at a time: a big store is never all in memory


class TargetNotEmptyError(StoreError):
    """The PostgreSQL store already holds rows: a copy would mix two stores."""


@dataclass(frozen=True)
class Copied:
    """How many rows of each table were copied, in ``TABLES`` order."""

    rows: dict[str, int]


def sqlite_tables(source: SQLiteDatabase) -> set[str]:
    conn = source.connection()
    found = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {str(row[0]) for row in found}


def copy_store(
    source: SQLiteDatabase,
    target: PostgresDatabase,
    progress: Callable[[int], None] | None = None,
) -> Copied:
    """Copy every row of ``source`` into ``target``, which must hold none (else
    TargetNotEmptyError, and nothing is written). All or nothing: one transaction, under
    the PostgreSQL store's write lock, from one snapshot of the SQLite store."""
    missing = sqlite_tables(source) - {name for name, _ in TABLES}
    if missing:  # a table this copy does not know would be left behind
        raise StoreError(f"store copy does not know the table(s) {', '.join(sorted(missing))}")
    copied: dict[str, int] = {}
    with target.transaction() as dst, source.snapshot() as src:
        _refuse_rows(dst, target.url)
        for table, identity in TABLES:
            copied[table] = _copy_table(src, dst, table, progress)
            if identity is not None:
                _move_sequence(src, dst, table, identity)
    return Copied(copied)


def _refuse_rows(conn: Connection, url: str) -> None:
    held = {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table, _ in TABLES
    }
    if any(held.values()):
        what = ", ".join(f"{table} {n}" for table, n in held.items() if n)
        raise TargetNotEmptyError(
            f"the store at {url} is not empty ({what}): copy only into a new, empty one"
        )


def _copy_table(
    src: Connection, dst: Connection, table: str, progress: Callable[[int], None] | None
) -> int:
    columns = [str(row[1]) for row in src.execute(f"PRAGMA table_info({table})").fetchall()]
    names = ", ".join(columns)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    done = 0
    # rowid order: ids ascending, and the change log in its own order.
    for rows in src.batches(f"SELECT {names} FROM {table} ORDER BY rowid", (), BATCH):
        dst.executemany(insert, [tuple(row) for row in rows])
        done += len(rows)
        if progress is not None:
            progress(len(rows))
    return done


def _move_sequence(src: Connection, dst: Connection, table: str, column: str) -> None:
    """The identity sequence past every id SQLite handed out, deleted rows' included."""
    highest = src.execute(f"SELECT max({column}) FROM {table}").fetchone()[0] or 0
    row = src.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    if row is not None:
        highest = max(highest, int(row[0]))
    if highest:
        dst.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), ?)", (highest,))
