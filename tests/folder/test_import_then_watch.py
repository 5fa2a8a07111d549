"""A folder exported, edited, imported and then watched holds no conflict: the import
told the folder's state what it read, so watch sees nothing changed on either side."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bridge.folder import FolderMirror, FolderWatcher, WatchOptions
from bridge.sandbox import SandboxApp
from tests.conftest import TOKEN
from tests.folder.conftest import BRIDGE, bridge, people
from tests.sync.conftest import make_engine


@pytest.mark.sandbox(seed_contacts=people(3))
def test_export_edit_import_then_watch_keeps_no_conflict(
    tmp_path: Path, config_file: Path, sandbox_app: SandboxApp
) -> None:
    folder = tmp_path / "vdir"
    config = ["--config", str(config_file)]
    assert bridge("export", str(folder), *config).returncode == 0
    path = sorted(folder.glob("*.vcf"))[1]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("END:VCARD", "NOTE:met at the fair\r\nEND:VCARD"), "utf-8")

    imported = bridge("import", str(folder), *config)
    assert imported.returncode == 0, imported.stderr
    assert "1 updated, 2 unchanged" in imported.stdout, imported.stdout
    assert [c.get("notes") for c in sandbox_app.dump(TOKEN)].count("met at the fair") == 1

    watch = subprocess.Popen(
        [*BRIDGE, "watch", str(folder), *config, "--interval", "3600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        banner = watch.stdout.readline()  # printed once the start-up reconcile is done
    finally:
        # Killed, not stopped: the banner may come before its signal handlers are set,
        # and how watch stops is not this test's point.
        watch.kill()
        _, err = watch.communicate(timeout=60)
    assert banner.startswith("watching "), (banner, err)
    assert "WARNING" not in err and "conflict" not in err, err

    status = bridge("status", *config, "--json")
    assert status.returncode == 0, status.stderr
    assert [book["conflicts"] for book in json.loads(status.stdout)] == [[]]
    assert not list((tmp_path / "var" / "conflicts").rglob("*.vcf"))
    assert "NOTE:met at the fair" in path.read_text(encoding="utf-8")
    assert [c.get("notes") for c in sandbox_app.dump(TOKEN)].count("met at the fair") == 1


@pytest.mark.sandbox(seed_contacts=people(1))
def test_a_file_and_a_book_edited_alike_are_no_conflict(
    tmp_path: Path, live_sandbox: str, sandbox_app: SandboxApp
) -> None:
    engine = make_engine(tmp_path / "bridge", live_sandbox)
    book = engine.book("alice", "work")
    assert book is not None
    folder = tmp_path / "contacts"
    engine.sync(book)
    mirror = FolderMirror(engine, book, folder)
    mirror.export_all()
    (path,) = folder.glob("*.vcf")
    edited = path.read_bytes().replace(b"END:VCARD", b"NOTE:alike\r\nEND:VCARD")
    # While nobody watches, the file and the book (a CardDAV client, say) get one edit.
    path.write_bytes(edited)
    engine.put(book, mirror.state.files()[path.name].href, edited)

    watcher = FolderWatcher(engine, book, folder, WatchOptions(interval=3600))
    watcher.start()  # reconciles both sides before it returns
    watcher.stop()
    try:
        assert engine.outbox.conflicts(book.id) == []
        assert not list((tmp_path / "bridge" / "conflicts").rglob("*.vcf"))
        assert path.read_bytes() == edited
        assert [c.get("notes") for c in sandbox_app.dump(TOKEN)] == ["alike"]
    finally:
        engine.close()


@pytest.mark.sandbox(seed_contacts=people(1))
def test_export_over_a_file_edited_like_the_book_keeps_no_conflict(
    tmp_path: Path, live_sandbox: str
) -> None:
    engine = make_engine(tmp_path / "bridge", live_sandbox)
    try:
        book = engine.book("alice", "work")
        assert book is not None
        engine.sync(book)
        folder = tmp_path / "contacts"
        mirror = FolderMirror(engine, book, folder)
        mirror.export_all()
        (path,) = folder.glob("*.vcf")
        edited = path.read_bytes().replace(b"END:VCARD", b"NOTE:alike\r\nEND:VCARD")
        path.write_bytes(edited.replace(b"\r\n", b"\n"))  # an editor's own line ends
        # The same edit reaches the book another way.
        engine.put(book, mirror.state.files()[path.name].href, edited)
        FolderMirror(engine, book, folder).export_all()
        assert engine.outbox.conflicts(book.id) == []
        assert path.read_bytes() == edited
    finally:
        engine.close()
