"""The store: versioned schema, change log, and safety under threads and processes, on
both backends (``store_config``: SQLite, then PostgreSQL); SQLite's files and migrations
on SQLite alone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bridge.config import StoreConfig
from bridge.store import (
    SCHEMA_VERSION,
    ContactRow,
    ContactStore,
    Outbox,
    SchemaTooNewError,
    SQLiteDatabase,
    open_database,
)
from bridge.store.schema import statements


def _row(book_id: int, href: str, etag: str = '"1"') -> ContactRow:
    return ContactRow(
        book_id=book_id,
        href=href,
        uid=f"uid-{href}",
        contact={"nickName": href},
        etag=etag,
        vcard=f"BEGIN:VCARD\r\nUID:uid-{href}\r\nEND:VCARD\r\n",
        last_modified=1.0,
    )


@pytest.fixture
def store(tmp_path: Path, store_config: StoreConfig | None) -> Iterator[ContactStore]:
    opened = ContactStore(open_database(tmp_path, store_config))
    yield opened
    opened.db.close()


def test_schema_is_versioned_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    SQLiteDatabase(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNewError):
        SQLiteDatabase(path)


def test_change_log_lists_each_changed_href_once_and_tombstones(store: ContactStore) -> None:
    book = store.ensure_book("alice", "work", "local")
    store.save(_row(book.id, "a.vcf"))
    store.save(_row(book.id, "b.vcf"))
    seq = store.current_seq(book.id)
    store.save(_row(book.id, "a.vcf", '"2"'))
    store.save(_row(book.id, "a.vcf", '"3"'))
    assert store.save(_row(book.id, "b.vcf")) is False  # same etag: no entry
    store.delete(book.id, "b.vcf")
    current, hrefs = store.changes_since(book.id, seq)
    assert sorted(hrefs) == ["a.vcf", "b.vcf"]
    assert current == store.current_seq(book.id) > seq
    assert store.changes_since(book.id, current) == (current, [])
    assert store.get(book.id, "b.vcf") is None


def test_holding_lists_the_contacts_with_fields_aurinko_refused(store: ContactStore) -> None:
    book = store.ensure_book("alice", "work", "aurinko")
    other = store.ensure_book("bob", "work", "aurinko")
    for b, href, held in ((book, "b.vcf", {"birthday": "--0414"}), (book, "a.vcf", None)):
        store.save(replace(_row(b.id, href), held=held))
    store.save(replace(_row(book.id, "c.vcf"), held={"notes": "x"}))
    store.save(replace(_row(other.id, "d.vcf"), held={"notes": "x"}))
    assert store.holding(book.id) == ["b.vcf", "c.vcf"]


def test_books_have_separate_change_logs(store: ContactStore) -> None:
    work = store.ensure_book("alice", "work", "local")
    home = store.ensure_book("alice", "home", "local")
    store.save(_row(work.id, "a.vcf"))
    assert store.changes_since(home.id, 0)[1] == []
    assert store.has_uid(work.id, "uid-a.vcf") and not store.has_uid(home.id, "uid-a.vcf")


def test_pruned_change_log_raises_the_floor(store: ContactStore) -> None:
    book = store.ensure_book("alice", "work", "local")
    for i in range(5):
        store.save(_row(book.id, f"{i}.vcf"))
    top = store.current_seq(book.id)
    store.prune_changes(book.id, top)
    assert store.book_by_id(book.id).change_floor == top
    assert store.current_seq(book.id) == top


def test_outbox_folds_writes_per_contact(store: ContactStore) -> None:
    outbox = Outbox(store.db)
    book = store.ensure_book("alice", "work", "aurinko")
    outbox.enqueue(book.id, "a.vcf", "create", local_json={"nickName": "1"})
    outbox.enqueue(book.id, "a.vcf", "update", local_json={"nickName": "2"})
    (op,) = outbox.pending(book.id)
    assert (op.op, op.local_json) == ("create", {"nickName": "2"})
    outbox.enqueue(book.id, "a.vcf", "delete")
    assert outbox.pending(book.id) == []  # never reached Aurinko: nothing to send
    outbox.enqueue(book.id, "b.vcf", "update", remote_id="r1", local_json={"nickName": "x"})
    outbox.claim_next(book.id)
    outbox.enqueue(book.id, "b.vcf", "update", remote_id="r1", local_json={"nickName": "y"})
    assert len(outbox.pending(book.id)) == 2  # a claimed op is never rewritten


def test_many_threads_write_safely(store: ContactStore) -> None:
    book = store.ensure_book("alice", "work", "local")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                store.save(_row(book.id, f"t{n}-{i}.vcf"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count(book.id) == 320
    assert len(store.changes_since(book.id, 0)[1]) == 320


def test_two_processes_share_one_store(
    tmp_path: Path, store: ContactStore, store_config: StoreConfig | None
) -> None:
    book = store.ensure_book("alice", "work", "local")
    script = textwrap.dedent(
        f"""
        from pathlib import Path, PosixPath
        from bridge.config import StoreConfig
        from bridge.store import ContactRow, ContactStore, open_database
        store = ContactStore(open_database(Path({str(tmp_path)!r}), {store_config!r}))
        for i in range(150):
            store.save(ContactRow(book_id={book.id}, href=f"p-{{i}}.vcf", uid=f"p-{{i}}",
                       contact={{}}, etag='"1"', vcard="x", last_modified=1.0))
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    for i in range(150):
        store.save(_row(book.id, f"m-{i}.vcf"))
    assert process.wait(timeout=120) == 0
    assert store.count(book.id) == 300
    assert len(store.changes_since(book.id, 0)[1]) == 300


def test_connections_are_reused_across_short_lived_threads(store: ContactStore) -> None:
    book = store.ensure_book("alice", "work", "local")
    before = store.db.opened
    for n in range(60):  # a thread-per-request server: one short thread per request
        thread = threading.Thread(target=store.save, args=(_row(book.id, f"r{n}.vcf"),))
        thread.start()
        thread.join()
    assert store.count(book.id) == 60
    assert store.db.opened - before <= 2  # not one connection per thread


def test_a_thread_ending_while_the_pool_is_locked_never_deadlocks(tmp_path: Path) -> None:
    """A connection goes back to the pool from a finalizer, which the garbage collector may
    run in a thread that is itself inside ``connection()`` holding the pool's lock (seen:
    every request thread of a server waited on that lock for good). Releasing must not
    wait for the lock; the connection is pooled by the next ``connection()``."""
    from bridge.store.sqlite import SQLiteDatabase

    db = SQLiteDatabase(tmp_path / "store.sqlite3")
    ended = threading.Thread(target=db.connection)  # a thread that takes a connection
    ended.start()
    ended.join()
    (left,) = [c for c in db._all if c is not db.connection()]
    with db._lock:  # as connection() holds it while the collector runs a finalizer
        releasing = threading.Thread(target=db._release, args=(left,), daemon=True)
        releasing.start()
        releasing.join(timeout=10)
        assert not releasing.is_alive(), "releasing a connection waited for the pool's lock"
    opened = db.opened
    reuser = threading.Thread(target=db.connection)
    reuser.start()
    reuser.join()
    assert db.opened == opened  # the released connection was reused, not a new one opened
    db.close()


def test_existing_cards_are_labelled_with_the_version_of_their_stored_text(
    tmp_path: Path,
) -> None:
    """Migration 4: rows written before cards kept their own version say which version
    their served text (and the etag clients hold) is in; nothing is re-rendered."""
    path = tmp_path / "store.sqlite3"
    with sqlite3.connect(path) as conn:
        for version in range(3):
            conn.executescript(";".join(statements(version, "sqlite")))
        conn.execute("PRAGMA user_version = 3")
        conn.execute(
            "INSERT INTO books (owner, name, kind, vcard_version) VALUES ('a', 'b', 'local', '4.0')"
        )
        for href, version in (("three.vcf", "3.0"), ("four.vcf", "4.0")):
            text = f"BEGIN:VCARD\r\nVERSION:{version}\r\nUID:{href}\r\nFN:X\r\nEND:VCARD\r\n"
            conn.execute(
                "INSERT INTO contacts (book_id, href, uid, contact_json, etag, vcard,"
                " last_modified) VALUES (1, ?, ?, '{}', '\"e\"', ?, 1.0)",
                (href, href, text),
            )
    store = ContactStore(SQLiteDatabase(path))
    assert {i.href: i.version for i in store.list_items(1)} == {
        "four.vcf": "4.0",
        "three.vcf": "3.0",
    }
    row = store.get(1, "four.vcf")
    assert row is not None and row.version == "4.0" and "VERSION:4.0" in row.vcard
    assert store.vcard(1, "three.vcf") == (
        row.vcard.replace("4.0", "3.0").replace("four", "three"),
        "3.0",
    )
    store.db.close()


def test_a_snapshot_sees_one_state_and_reads_never_wait_for_a_writer(
    tmp_path: Path, store: ContactStore, store_config: StoreConfig | None
) -> None:
    book = store.ensure_book("alice", "work", "local")
    store.save(_row(book.id, "a.vcf"))
    other = ContactStore(open_database(tmp_path, store_config))  # a second instance
    writing, release = threading.Event(), threading.Event()

    def writer() -> None:
        with other.db.transaction():
            other.save(_row(book.id, "b.vcf"))
            writing.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    try:
        with store.db.snapshot():
            assert store.count(book.id) == 1
            thread.start()
            assert writing.wait(30)
            started = time.monotonic()
            assert store.count(book.id) == 1  # the writer's card is not committed yet
            assert store.get(book.id, "a.vcf") is not None
            assert time.monotonic() - started < 5  # and the read did not wait for it
            release.set()
            thread.join(30)
            assert store.count(book.id) == 1  # committed, but after the snapshot began
        assert store.count(book.id) == 2
    finally:
        release.set()
        thread.join(30)
        other.db.close()


@pytest.mark.parametrize("writer", ["another instance", "another thread"])
def test_write_transactions_take_turns(
    tmp_path: Path, store: ContactStore, store_config: StoreConfig | None, writer: str
) -> None:
    """What the outbox and the UID checks rest on: a check and the write it decides are
    never interleaved with another writer's, another instance's (the database's lock) or
    another thread's of this one (SQLite: handed over in the process, without SQLite's
    polling wait)."""
    book = store.ensure_book("alice", "work", "local")
    other = (
        ContactStore(open_database(tmp_path, store_config))
        if writer == "another instance"
        else store
    )
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with store.db.transaction():
            store.save(_row(book.id, "first.vcf"))
            inside.set()
            release.wait(30)
            order.append("first commits")

    def second() -> None:
        with other.db.transaction():
            order.append("second begins")
            other.save(_row(book.id, "second.vcf"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        threads[0].start()
        assert inside.wait(30)
        threads[1].start()
        time.sleep(0.3)
        assert order == []  # the second writer's transaction waits for the first's
        release.set()
        for thread in threads:
            thread.join(30)
        assert order == ["first commits", "second begins"]
        assert store.count(book.id) == 2
    finally:
        release.set()
        if other is not store:
            other.db.close()


def test_a_write_transaction_cannot_start_inside_a_snapshot(store: ContactStore) -> None:
    """A snapshot is read-only on PostgreSQL, and a write after a read is not safe on
    SQLite either: both refuse it the same way."""
    book = store.ensure_book("alice", "work", "local")
    with store.db.snapshot(), pytest.raises(RuntimeError, match="inside a snapshot"):
        store.save(_row(book.id, "a.vcf"))
    with store.db.transaction(), store.db.snapshot():  # a read inside a write joins it
        store.save(_row(book.id, "a.vcf"))
    assert store.count(book.id) == 1


def test_streamed_listings_read_in_batches_inside_one_snapshot(store: ContactStore) -> None:
    book = store.ensure_book("alice", "work", "local")
    for i in range(25):
        row = _row(book.id, f"{i:02}.vcf")
        store.save(ContactRow(**{**row.__dict__, "vcard": f"N:é{i}\r\n"}))
    cards = store.stream_cards(book.id, None, with_length=True, with_text=True, batch=4)
    seen = []
    for href, card in cards:
        assert card is not None
        assert card.length == len(f"N:é{int(href[:2])}\r\n".encode())  # bytes, not characters
        store.vcard(book.id, href)  # other reads in between, as a listing's renderer does
        seen.append(href)
    assert seen == [f"{i:02}.vcf" for i in range(25)]
    first = store.stream_cards(book.id, None, batch=4)
    assert next(first)[0] == "00.vcf"
    first.close()  # a client gone mid-listing: its snapshot ends with it
    store.save(_row(book.id, "99.vcf"))
    assert [h for h, c in store.stream_cards(book.id, ["99.vcf", "zz.vcf"])] == ["99.vcf", "zz.vcf"]


def test_a_folders_file_records_and_position_are_replaced_not_duplicated(
    tmp_path: Path, store: ContactStore
) -> None:
    """FolderState's upserts (once SQLite's INSERT OR REPLACE): one row per file, one
    position per folder and book."""
    from bridge.store import FileRecord, FolderState

    book = store.ensure_book("alice", "work", "local")
    state = FolderState(store.db, tmp_path / "vdir", book.id)
    state.record(FileRecord("a.vcf", "a.vcf", '"1"', "d1"))
    state.record(FileRecord("a.vcf", "moved.vcf", '"2"', "d2"))
    assert state.files() == {"a.vcf": FileRecord("a.vcf", "moved.vcf", '"2"', "d2")}
    assert state.by_href("moved.vcf") == state.get("a.vcf")
    assert state.seq() is None
    state.set_seq(3)
    state.set_seq(5)
    assert state.seq() == 5
    state.forget("a.vcf")
    assert state.get("a.vcf") is None and state.files() == {}
