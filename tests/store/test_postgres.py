"""The store on PostgreSQL: a schema equal to SQLite's, its version, several instances on
one database (what SQLite's one writer at a time gave the engine, the advisory lock must
give too), and the one-line errors a user sees when the server cannot be used."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from bridge.config import StoreConfig
from bridge.store import (
    SCHEMA_VERSION,
    ContactStore,
    Outbox,
    SchemaTooNewError,
    SQLiteDatabase,
    StoreError,
    open_database,
    postgres,
)
from bridge.store.postgres import PostgresDatabase, to_pyformat
from tests.postgres import PostgresServer


def _open(store: StoreConfig) -> PostgresDatabase:
    return PostgresDatabase(store.url, store.read_password())


def test_the_schema_is_made_at_the_current_version_and_a_newer_one_is_refused(
    tmp_path: Path, pg_store: StoreConfig
) -> None:
    db = open_database(tmp_path, pg_store)
    assert db.kind == "postgresql"
    db.close()
    assert list(tmp_path.iterdir()) == []  # no SQLite file beside it
    db = _open(pg_store)
    with db.connect() as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall()[0][0] == (
            SCHEMA_VERSION
        )
        conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(SchemaTooNewError, match="newer than this release"):
        _open(pg_store)


def test_the_schema_is_sqlites_with_types_both_read_alike(
    tmp_path: Path, pg_store: StoreConfig
) -> None:
    """The DDL made at once equals SQLite's migrations 1-8, column for column and index
    for index; integers are BIGINT and reals DOUBLE PRECISION (never float4)."""
    SQLiteDatabase(tmp_path / "s.sqlite3").close()
    with sqlite3.connect(tmp_path / "s.sqlite3") as lite:
        tables = [
            r[0]
            for r in lite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        lite_columns = {
            t: {r[1]: r[2] for r in lite.execute(f"PRAGMA table_info({t})")} for t in tables
        }
        lite_indexes = {
            r[0]
            for r in lite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
    db = _open(pg_store)
    try:
        with db.connect() as conn:
            rows = conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
            ).fetchall()
            pg_indexes = {
                r[0]
                for r in conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                    " AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%key'"
                )
            }
    finally:
        db.close()
    pg_columns: dict[str, dict[str, str]] = defaultdict(dict)
    for table, column, kind in rows:
        pg_columns[table][column] = kind
    assert set(pg_columns) == {*lite_columns, "schema_version"}
    for table, columns in lite_columns.items():
        assert set(pg_columns[table]) == set(columns), table
        for column, declared in columns.items():
            want = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text"}[declared]
            assert pg_columns[table][column] == want, (table, column)
    assert pg_indexes == lite_indexes


Constraints = tuple[set[tuple[str, str]], set[tuple[str, ...]], set[tuple[object, ...]]]


def _sqlite_constraints(path: Path) -> Constraints:
    """Columns that may not be NULL, foreign keys (table, column, table, column, on
    delete) and unique column sets (table, partial, columns...) of a SQLite store."""
    with sqlite3.connect(path) as lite:
        tables = [
            r[0]
            for r in lite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        not_null: set[tuple[str, str]] = set()
        keys: set[tuple[str, ...]] = set()
        unique: set[tuple[object, ...]] = set()
        for table in tables:
            columns = list(lite.execute(f"PRAGMA table_info({table})"))
            not_null |= {(table, c[1]) for c in columns if c[3] or c[5]}
            primary = [c[1] for c in sorted(columns, key=lambda c: c[5]) if c[5]]
            unique.add((table, False, *primary))  # an INTEGER PRIMARY KEY has no index
            for fk in lite.execute(f"PRAGMA foreign_key_list({table})"):
                keys.add((table, fk[3], fk[2], fk[4], fk[6]))
            for index in lite.execute(f"PRAGMA index_list({table})"):
                if index[2]:
                    names = [r[2] for r in lite.execute(f"PRAGMA index_info({index[1]})")]
                    unique.add((table, bool(index[4]), *names))
    return not_null, keys, unique


def _postgres_constraints(db: PostgresDatabase) -> Constraints:
    with db.connect() as conn:
        not_null = {
            (r[0], r[1])
            for r in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND is_nullable = 'NO'"
                " AND table_name <> 'schema_version'"
            )
        }
        keys = {
            (r[0], r[1], r[2], r[3], {"c": "CASCADE"}.get(r[4], r[4]))
            for r in conn.execute(
                "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text,"
                " f.attname, c.confdeltype FROM pg_constraint c"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
                " JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = c.confkey[1]"
                " WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"
            )
        }
        unique = {
            (r[0], r[1], *r[2])
            for r in conn.execute(
                "SELECT i.indrelid::regclass::text, i.indpred IS NOT NULL,"
                " array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)"
                " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
                " ORDER BY k.o)"
                " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relnamespace = current_schema()::regnamespace AND i.indisunique"
                " AND i.indrelid::regclass::text <> 'schema_version'"
            )
        }
    return not_null, keys, unique


def test_both_backends_make_the_same_constraints(tmp_path: Path, pg_store: StoreConfig) -> None:
    """Beyond columns, types and indexes (above): the same columns refuse NULL, the same
    columns reference a book, and the same column sets are unique, on both backends (both
    are made from one list of migrations: this checks the types table that tells them
    apart)."""
    SQLiteDatabase(tmp_path / "s.sqlite3").close()
    lite = _sqlite_constraints(tmp_path / "s.sqlite3")
    db = _open(pg_store)
    try:
        pg = _postgres_constraints(db)
    finally:
        db.close()
    assert lite[0] == pg[0]
    assert lite[1] == pg[1] and ("contacts", "book_id", "books", "id", "CASCADE") in lite[1]
    assert lite[2] == pg[2] and ("contacts", True, "book_id", "remote_id") in lite[2]


def test_instances_starting_together_make_the_schema_once(pg_store: StoreConfig) -> None:
    errors: list[BaseException] = []
    opened: list[PostgresDatabase] = []

    def start() -> None:
        try:
            opened.append(_open(pg_store))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        with opened[0].connect() as conn:
            assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 1
        epochs = {ContactStore(db).epoch for db in opened}
        assert len(epochs) == 1  # one store, whichever instance asks
    finally:
        for db in opened:
            db.close()


def test_writes_on_two_instances_while_one_pushes_are_claimed_once_and_never_lost(
    tmp_path: Path, pg_store: StoreConfig
) -> None:
    """Writers on two instances fold into a book's outbox while the instance that owns
    the book pushes it (one pusher per book: the book's sync lock). Each op is claimed
    once, and every contact's last write is the last one pushed: a write folded into an
    op between its claim's read and its claim's write would be lost, which only one
    writer at a time across instances prevents."""
    instances = [open_database(tmp_path, pg_store) for _ in range(2)]
    outboxes = [Outbox(db) for db in instances]
    book = ContactStore(instances[0]).ensure_book("alice", "work", "aurinko")
    hrefs = [f"c{i}.vcf" for i in range(4)]  # few: writes often meet the op being claimed
    for href in hrefs:
        outboxes[0].enqueue(book.id, href, "create", local_json={"n": 0})
    choose = outboxes[1].next

    def choose_slowly(*args: object, **kwargs: object) -> object:
        """A slow pusher: time between the claim's read and its write, for a fold to
        land in if writers did not take turns."""
        op = choose(*args, **kwargs)  # type: ignore[arg-type]
        time.sleep(0.003)
        return op

    outboxes[1].next = choose_slowly  # type: ignore[assignment,method-assign]
    claimed: list[int] = []
    pushed: dict[str, list[int]] = defaultdict(list)
    last_written: dict[str, int] = {}
    lock = threading.Lock()
    writing = threading.Event()
    writing.set()
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        mine = hrefs[index::2]  # one writer per contact: its writes are in order
        for n in range(1, 61):
            for href in mine:
                outboxes[index].enqueue(book.id, href, "update", local_json={"n": n})
                last_written[href] = n

    def pusher(outbox: Outbox) -> None:
        while True:
            op = outbox.claim_next(book.id)
            if op is None:
                if not writing.is_set():
                    return
                time.sleep(0.001)
                continue
            with lock:
                claimed.append(op.id)
                assert op.local_json is not None
                pushed[op.href].append(op.local_json["n"])
            outbox.done(op, f"remote-{op.href}", '"e"')

    def guarded(target: object, *args: object) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)  # type: ignore[operator]
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        return threading.Thread(target=run)

    writers = [guarded(writer, i) for i in range(2)]
    pushers = [guarded(pusher, outboxes[1])]
    try:
        for thread in [*writers, *pushers]:
            thread.start()
        for thread in writers:
            thread.join(120)
        writing.clear()
        for thread in pushers:
            thread.join(120)
        assert errors == []
        assert len(claimed) == len(set(claimed))  # never handed out twice
        assert outboxes[0].pending(book.id) == []
        for href in hrefs:
            assert pushed[href][-1] == last_written[href], href  # no write lost
            assert pushed[href] == sorted(pushed[href]), href  # and in the order written
    finally:
        for db in instances:
            db.close()


def test_an_invalid_url_is_one_clear_line() -> None:
    with pytest.raises(StoreError, match=r"invalid store url.*nosuchoption") as caught:
        PostgresDatabase("postgresql://db/x?nosuchoption=1")
    assert "\n" not in str(caught.value)


def test_a_password_in_the_url_is_refused(postgres: PostgresServer) -> None:
    for url in (
        f"postgresql://bridge:hunter2@127.0.0.1:{postgres.port}/bridge",
        f"postgresql://bridge@127.0.0.1:{postgres.port}/bridge?password=hunter2",
    ):
        with pytest.raises(StoreError, match="must not contain a password") as caught:
            PostgresDatabase(url)
        assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "query", ["sslpassword=hunter2", "oauth_client_secret=hunter2", "scram_client_key=hunter2"]
)
def test_libpqs_other_secrets_in_the_url_are_refused(query: str) -> None:
    """Issue 21: the store refuses them itself too (a URL not from the configuration),
    before connecting, and never repeats them."""
    with pytest.raises(StoreError, match=r"must not contain \w+: it is a secret") as caught:
        PostgresDatabase(f"postgresql://bridge@127.0.0.1:1/bridge?{query}")
    assert "hunter2" not in str(caught.value)


def test_a_url_libpq_cannot_read_is_not_repeated() -> None:
    """libpq quotes the whole URL in some of its errors; the message leaves it out."""
    with pytest.raises(StoreError, match="invalid store url") as caught:
        PostgresDatabase("postgresql://[::1/bridge?sslpassword=hunter2")
    assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_wrong_password_is_one_clear_line(tmp_path: Path, pg_store: StoreConfig) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    store = StoreConfig(url=pg_store.url, password_file=wrong)
    with pytest.raises(StoreError) as caught:
        open_database(tmp_path, store)
    message = str(caught.value)
    assert message.startswith(f"cannot connect to the store at {pg_store.url}: ")
    assert "password authentication failed" in message
    assert "\n" not in message and "not-the-password" not in message


def test_no_server_and_no_database_are_one_clear_line(
    tmp_path: Path, postgres: PostgresServer, pg_store: StoreConfig
) -> None:
    closed = postgres.url(port=1)  # nothing listens on port 1
    with pytest.raises(StoreError) as caught:
        PostgresDatabase(closed, "x")
    assert str(caught.value).startswith(f"cannot connect to the store at {closed}: ")
    assert "refused" in str(caught.value) and "\n" not in str(caught.value)
    missing = postgres.url().rsplit("/", 1)[0] + "/nosuchdb"
    with pytest.raises(StoreError, match='database "nosuchdb" does not exist'):
        PostgresDatabase(missing, pg_store.read_password())


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("SELECT 'why?' || ? FROM t", "SELECT 'why?' || %s FROM t"),
        ("SELECT '100%' , a % 2 FROM t", "SELECT '100%%' , a %% 2 FROM t"),
        (
            "SELECT 'it''s ?' , \"odd?name\" FROM t WHERE x = ?",
            "SELECT 'it''s ?' , \"odd?name\" FROM t WHERE x = %s",
        ),
    ],
)
def test_placeholders_are_translated_outside_quotes_only(sql: str, expected: str) -> None:
    assert to_pyformat(sql) == expected


def test_percent_and_question_marks_reach_postgresql_intact(
    tmp_path: Path, pg_store: StoreConfig
) -> None:
    db = open_database(tmp_path, pg_store)
    try:
        row = db.connection().execute("SELECT '50%?' || ?, ? % 7", ("!", 23)).fetchone()
        assert (row[0], row[1]) == ("50%?!", 2)
        with db.transaction() as conn:
            assert conn.execute("SELECT '%' || ?", ("?",)).fetchone()[0] == "%?"
    finally:
        db.close()


def test_a_writer_stuck_past_the_lock_wait_surfaces_instead_of_hanging(
    tmp_path: Path, pg_store: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As SQLite's busy timeout does: a write transaction waits for another instance's
    at most LOCK_WAIT_MS, then fails with a StoreError naming the store."""
    monkeypatch.setattr(postgres, "LOCK_WAIT_MS", 200)
    first, second = _open(pg_store), _open(pg_store)
    try:
        with first.transaction():
            started = time.monotonic()
            with pytest.raises(StoreError, match="lock timeout"), second.transaction():
                pass
            assert time.monotonic() - started < 10
        with second.transaction():  # free again
            pass
    finally:
        first.close()
        second.close()


def _refused(db: PostgresDatabase, book_id: int | None) -> bool:
    """Whether a write transaction of ``book_id`` (None: the whole store) on ``db`` times
    out waiting for a lock held elsewhere."""
    try:
        with db.transaction(book_id):
            return False
    except StoreError as exc:
        assert "lock timeout" in str(exc)
        return True


def test_two_books_writers_never_wait_for_each_other(
    pg_store: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One book's write transaction holds that book alone: another book's writer in
    another instance goes ahead; the same book's, and a writer of the whole store, wait."""
    monkeypatch.setattr(postgres, "LOCK_WAIT_MS", 200)
    first, second = _open(pg_store), _open(pg_store)
    try:
        with first.transaction(1):
            assert not _refused(second, 2)
            assert _refused(second, 1)
            assert _refused(second, None)
            with first.transaction(2):  # a nested transaction locks the book it names
                assert _refused(second, 2)
        with first.transaction():  # the whole store: every writer waits
            assert _refused(second, 2)
        assert not _refused(second, 1) and not _refused(second, None)
    finally:
        first.close()
        second.close()
