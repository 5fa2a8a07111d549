"""What the bridge writes holds contacts or secrets: 0600 files in 0700 folders, whatever the
umask (issue 11). The library is checked, not the CLI: the Radicale plugin never runs it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.aurinko import AurinkoClient
from bridge.demo import DEMO_BOOK, DEMO_USER, embedded_demo
from bridge.folder import FolderMirror, FolderWatcher, WatchOptions
from bridge.runtime import open_engine
from bridge.sandbox import SandboxApp
from bridge.sync import SyncEngine
from tests.conftest import TOKEN
from tests.sync.conftest import FAST_RETRY, make_engine, no_sleep, vcard


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which everything used to come out 0644 in 0755 folders."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def not_private(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) that is not a 0700 folder or a 0600 file."""
    found = []
    paths = [root, *root.rglob("*")]
    for path in paths:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            found.append(f"{path.relative_to(root.parent)}: {mode:04o}")
    return found


def _conflict(engine: SyncEngine, live_sandbox: str) -> None:
    """Both sides change one field; the losing (local) version goes to conflicts/."""
    book = engine.book("alice", "work")
    assert book is not None
    engine.put(book, "a.vcf", vcard("uid-a", "Ann"))
    engine.put(book, "a.vcf", vcard("uid-a", "Ann", "NICKNAME:Local"), push=False)
    row = engine.store.get(book.id, "a.vcf")
    assert row is not None and row.remote_id
    with AurinkoClient(TOKEN, live_sandbox, retry=FAST_RETRY, sleep=no_sleep) as remote:
        current = remote.get(row.remote_id)
        remote.update(row.remote_id, {"nickName": "Remote"}, etag=current["etag"])
    report = engine.sync(book)
    assert len(report.conflicts) == 1, report


@pytest.mark.sandbox(seed_contacts=[{"name": {"displayName": "Seeded"}}])
def test_data_dir_after_sync_conflict_and_export_is_private(
    umask_022: None, tmp_path: Path, live_sandbox: str
) -> None:
    data_dir = tmp_path / "var" / "bridge"
    engine = make_engine(data_dir, live_sandbox)
    try:
        book = engine.book("alice", "work")
        assert book is not None
        assert engine.sync(book).error is None
        _conflict(engine, live_sandbox)
        vdir = tmp_path / "export" / "vdir"
        report = FolderMirror(engine, book, vdir).export_all()
        assert report.written == 2
        # While the store is open, SQLite's side files exist: they hold contacts too.
        names = {p.name for p in data_dir.iterdir()}
        assert {"store.sqlite3-wal", "store.sqlite3-shm", "locks", "conflicts"} <= names
        assert list((data_dir / "conflicts").rglob("*.vcf"))
        assert list((data_dir / "locks").iterdir())
        # A folder the bridge made for export or watch, and its cards.
        watcher = FolderWatcher(engine, book, tmp_path / "watched" / "cards", WatchOptions())
        watcher.start()
        watcher.stop()
        assert len(list((tmp_path / "watched" / "cards").glob("*.vcf"))) == 2
        assert not_private(tmp_path / "export") == []
        assert not_private(tmp_path / "watched") == []
        assert not_private(data_dir) == []
    finally:
        engine.close()
    assert not_private(data_dir) == []


def test_an_existing_data_dir_left_open_by_an_older_version_is_tightened(
    umask_022: None, tmp_path: Path, live_sandbox: str
) -> None:
    data_dir = tmp_path / "var"
    make_engine(data_dir, live_sandbox).close()
    for folder in (data_dir, data_dir / "locks"):
        folder.chmod(0o755)
    (data_dir / "conflicts").mkdir(mode=0o755)
    (data_dir / "store.sqlite3").chmod(0o644)
    (data_dir / "store.sqlite3-wal").write_bytes(b"")
    (data_dir / "store.sqlite3-wal").chmod(0o644)
    make_engine(data_dir, live_sandbox).close()
    assert not_private(data_dir) == []


def test_an_export_into_an_existing_folder_keeps_its_mode_but_cards_are_private(
    umask_022: None, tmp_path: Path, live_sandbox: str, sandbox_app: SandboxApp
) -> None:
    engine = make_engine(tmp_path / "var", live_sandbox)
    try:
        book = engine.book("alice", "work")
        assert book is not None
        engine.put(book, "a.vcf", vcard("uid-a", "Ann"))
        vdir = tmp_path / "shared"
        vdir.mkdir(mode=0o750)  # the user's own folder: its mode is theirs to choose
        FolderMirror(engine, book, vdir).export_all()
        assert stat.S_IMODE(vdir.stat().st_mode) == 0o750
        (card,) = vdir.glob("*.vcf")
        assert stat.S_IMODE(card.stat().st_mode) == 0o600
    finally:
        engine.close()


def test_the_embedded_demo_dir_is_private(umask_022: None, tmp_path: Path) -> None:
    from bridge.htpasswd import set_password

    demo = tmp_path / "share" / "demo"
    with embedded_demo(demo, port=0) as config:
        set_password(config.htpasswd, "demo", "secret", rounds=4)  # what serve does
        engine, _ = open_engine(config)
        try:
            book = engine.book(DEMO_USER, DEMO_BOOK)
            assert book is not None
            assert engine.sync(book).error is None
            names = {p.name for p in demo.iterdir()}
            assert {"sandbox.sqlite3", "sandbox.sqlite3-wal", "sandbox.sqlite3-shm"} <= names
            assert {"users.htpasswd", "demo.token", "bridge"} <= names
            assert not_private(demo) == []
        finally:
            engine.close()
    assert not_private(tmp_path / "share") == []
