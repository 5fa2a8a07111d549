"""The store: versioned schema, change log, and safety under threads and processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from bridge.store import (
    SCHEMA_VERSION,
    ContactRow,
    ContactStore,
    Database,
    Outbox,
    SchemaTooNewError,
)
from bridge.store.schema import MIGRATIONS


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
def store(tmp_path: Path) -> ContactStore:
    return ContactStore(Database(tmp_path / "store.sqlite3"))


def test_schema_is_versioned_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    Database(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNewError):
        Database(path)


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


def test_outbox_folds_writes_per_contact(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.sqlite3")
    store, outbox = ContactStore(db), Outbox(db)
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


def test_two_processes_share_one_data_directory(tmp_path: Path, store: ContactStore) -> None:
    path = Path(store.db.path)
    book = store.ensure_book("alice", "work", "local")
    script = textwrap.dedent(
        f"""
        from bridge.store import ContactRow, ContactStore, Database
        store = ContactStore(Database({str(path)!r}))
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


def test_existing_cards_are_labelled_with_the_version_of_their_stored_text(
    tmp_path: Path,
) -> None:
    """Migration 4: rows written before cards kept their own version say which version
    their served text (and the etag clients hold) is in; nothing is re-rendered."""
    path = tmp_path / "store.sqlite3"
    with sqlite3.connect(path) as conn:
        for migration in MIGRATIONS[:3]:
            conn.executescript(migration)
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
    store = ContactStore(Database(path))
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
