"""watch: a folder and a book kept in sync both ways, with the guards a user needs."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.aurinko import AurinkoClient
from bridge.folder import FolderWatcher, WatchOptions
from bridge.sandbox import SandboxApp
from bridge.store import Book
from bridge.sync import SyncEngine
from tests.conftest import TOKEN
from tests.folder.conftest import BRIDGE, people
from tests.sync.conftest import FAST_RETRY, make_engine, no_sleep
from tests.wait import eventually

OPTIONS = WatchOptions(debounce=0.2, interval=0.3, refresh=0.1)


def card(uid: str, fn: str, *extra: str) -> str:
    return (
        "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{fn}", *extra, "END:VCARD"])
        + "\r\n"
    )


@dataclass
class Watched:
    folder: Path
    engine: SyncEngine
    book: Book
    watcher: FolderWatcher
    sandbox: SandboxApp
    remote: AurinkoClient

    def names(self) -> list[str]:
        return sorted(c["name"]["displayName"] for c in self.sandbox.dump(TOKEN))

    def texts(self) -> str:
        return "\n".join(p.read_text(encoding="utf-8") for p in sorted(self.folder.glob("*.vcf")))


@pytest.fixture
def watched(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Iterator[Watched]:
    engine = make_engine(tmp_path / "bridge", live_sandbox)
    book = engine.book("alice", "work")
    assert book is not None
    folder = tmp_path / "contacts"
    watcher = FolderWatcher(engine, book, folder, OPTIONS)
    remote = AurinkoClient(TOKEN, live_sandbox, retry=FAST_RETRY, sleep=no_sleep)
    watcher.start()
    yield Watched(folder, engine, book, watcher, sandbox_app, remote)
    watcher.stop()
    engine.close()
    remote.close()


@pytest.mark.sandbox(seed_contacts=people(4))
def test_initial_state_is_written_into_the_folder(watched: Watched) -> None:
    assert len(list(watched.folder.glob("*.vcf"))) == 4
    assert "FN:Person 2" in watched.texts()


def test_created_edited_and_removed_files_reach_aurinko(watched: Watched) -> None:
    path = watched.folder / "ann.vcf"
    path.write_text(card("uid-ann", "Ann"), encoding="utf-8")
    eventually(lambda: watched.names() == ["Ann"], what="created file pushed")

    # An editor that saves by writing a temp file and renaming it over the original.
    tmp = watched.folder / ".ann.vcf.swp"
    tmp.write_text(card("uid-ann", "Ann", "NICKNAME:Annie"), encoding="utf-8")
    os.replace(tmp, path)
    eventually(
        lambda: [c.get("nickName") for c in watched.sandbox.dump(TOKEN)] == ["Annie"],
        what="renamed-over edit pushed",
    )
    path.unlink()
    eventually(lambda: watched.names() == [], what="deletion pushed")


def test_editor_litter_and_own_writes_are_ignored(watched: Watched) -> None:
    for name in (".#ann.vcf", "ann.vcf~", ".ann.vcf.swp", "notes.txt"):
        (watched.folder / name).write_text(card(f"uid-{name}", "Litter"), encoding="utf-8")
    watched.remote.create({"name": {"displayName": "From Aurinko"}})
    eventually(lambda: "From Aurinko" in watched.texts(), what="remote contact written")
    before = watched.sandbox.dump(TOKEN)
    import time

    time.sleep(1.5)  # several debounce and refresh rounds
    assert watched.sandbox.dump(TOKEN) == before  # no echo PATCH of our own file write
    assert watched.names() == ["From Aurinko"]
    assert watched.engine.outbox.count(watched.book.id) == 0


def test_remote_and_carddav_changes_reach_the_folder(watched: Watched) -> None:
    created = watched.remote.create({"name": {"displayName": "Remote"}})
    eventually(lambda: "FN:Remote" in watched.texts(), what="remote create")
    watched.remote.update(created.id, {"nickName": "Remo"}, etag=created.etag)
    eventually(lambda: "NICKNAME:Remo" in watched.texts(), what="remote edit")
    # A CardDAV write through another engine on the same data directory (the server).
    other = make_engine(
        watched.engine.data_dir, watched.remote._http.base_url.__str__().rstrip("/")
    )
    book = other.book("alice", "work")
    assert book is not None
    other.put(book, "carddav.vcf", card("uid-dav", "Via CardDAV"))
    other.close()
    eventually(lambda: (watched.folder / "carddav.vcf").exists(), what="CardDAV write")
    watched.remote.delete(created.id)
    eventually(lambda: "FN:Remote" not in watched.texts(), what="remote delete")
    assert watched.names() == ["Via CardDAV"]


class _SavedDuringStart(FolderWatcher):
    """A user saving a file once the first export is on disk, while start-up still runs."""

    def _reconcile(self) -> None:
        super()._reconcile()
        (self.folder / "early.vcf").write_text(card("uid-early", "Early"), encoding="utf-8")


@pytest.mark.sandbox(seed_contacts=people(2))
def test_a_file_saved_while_the_watcher_starts_is_imported(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path
) -> None:
    engine = make_engine(tmp_path / "bridge", live_sandbox)
    book = engine.book("alice", "work")
    assert book is not None
    watcher = _SavedDuringStart(engine, book, tmp_path / "contacts", OPTIONS)
    watcher.start()
    try:
        eventually(
            lambda: "Early" in [c["name"]["displayName"] for c in sandbox_app.dump(TOKEN)],
            what="the file saved during start-up pushed",
        )
    finally:
        watcher.stop()
        engine.close()


@pytest.mark.sandbox(seed_contacts=people(10))
def test_mass_deletion_is_refused_and_files_restored(watched: Watched) -> None:
    files = sorted(watched.folder.glob("*.vcf"))
    for path in files[:8]:
        path.unlink()
    eventually(lambda: len(list(watched.folder.glob("*.vcf"))) == 10, what="files restored")
    assert len(watched.sandbox.dump(TOKEN)) == 10


@pytest.mark.sandbox(seed_contacts=people(6))
def test_a_deleted_folder_is_recreated_not_propagated(watched: Watched) -> None:
    import shutil

    shutil.rmtree(watched.folder)
    eventually(lambda: len(list(watched.folder.glob("*.vcf"))) == 6, what="folder restored")
    assert len(watched.sandbox.dump(TOKEN)) == 6
    (watched.folder / "late.vcf").write_text(card("uid-late", "Late"), encoding="utf-8")
    eventually(lambda: len(watched.sandbox.dump(TOKEN)) == 7, what="watching again")


@pytest.mark.sandbox(seed_contacts=people(1))
def test_simultaneous_edits_keep_both_versions(watched: Watched) -> None:
    (path,) = watched.folder.glob("*.vcf")
    contact = watched.sandbox.dump(TOKEN)[0]
    watched.watcher.stop()  # both sides change while nobody watches
    watched.remote.update(contact["id"], {"nickName": "remote side"}, etag=contact["etag"])
    path.write_text(path.read_text().replace("END:VCARD", "NOTE:folder side\r\nEND:VCARD"))
    restarted = FolderWatcher(watched.engine, watched.book, watched.folder, OPTIONS)
    restarted.start()
    try:
        eventually(
            lambda: "folder side" in str(watched.sandbox.dump(TOKEN)[0].get("notes")),
            what="folder edit pushed",
        )
        final = watched.sandbox.dump(TOKEN)[0]
        kept = list((watched.engine.data_dir / "conflicts").rglob("*.vcf"))
        # Different fields merge; nothing of either side is lost.
        assert final.get("nickName") == "remote side" or any(
            "remote side" in p.read_text() for p in kept
        )
    finally:
        restarted.stop()


@pytest.mark.slow
def test_watch_cli_alongside_a_server_on_one_data_directory(
    tmp_path: Path, config_file: Path, live_sandbox: str, sandbox_app: SandboxApp
) -> None:
    folder = tmp_path / "contacts"
    process = subprocess.Popen(
        [*BRIDGE, "watch", str(folder), "--config", str(config_file), "--interval", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually(lambda: folder.is_dir(), what="watch started")
        server = make_engine(tmp_path / "var", live_sandbox)
        book = server.book("alice", "work")
        assert book is not None
        for i in range(10):
            server.put(book, f"s{i}.vcf", card(f"uid-s{i}", f"Server {i}"))
            (folder / f"f{i}.vcf").write_text(card(f"uid-f{i}", f"Folder {i}"), encoding="utf-8")
        eventually(lambda: len(sandbox_app.dump(TOKEN)) == 20, timeout=60, what="all pushed")
        eventually(lambda: len(list(folder.glob("*.vcf"))) == 20, timeout=60, what="all in folder")
        names = sorted(c["name"]["displayName"] for c in sandbox_app.dump(TOKEN))
        assert names == sorted(
            [f"Server {i}" for i in range(10)] + [f"Folder {i}" for i in range(10)]
        )
        server.close()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err
