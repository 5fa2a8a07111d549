"""watch and a user who saves quickly: the newest save of a file always wins (issue 11).

A save that lands while watch is still importing the previous one (the upstream write takes
a while) used to be overwritten by that previous version: watch took its own import for a
change made in the book, and the user's last save survived only in ``conflicts/``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.folder import FolderWatcher, WatchOptions
from bridge.sandbox import SandboxApp
from bridge.store import Book
from bridge.sync import SyncEngine
from tests.conftest import TOKEN
from tests.folder.conftest import people
from tests.sync.conftest import make_engine
from tests.wait import eventually

LATENCY = 0.3  # per upstream request: importing a save (its PATCH) takes 0.3 s and more

# (watch options, seconds between the two saves): the second save lands while the first
# is being imported. "cli" is the command's own rhythm, as the probe of issue 11 ran it.
RHYTHMS = {
    "fast": (WatchOptions(debounce=0.2, interval=600, refresh=0.1), 0.45),
    "cli": (WatchOptions(debounce=0.5, interval=600, refresh=1.0), 0.7),
}


def _card(uid: str, note: str) -> str:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", "FN:Quick Saver", f"NOTE:{note}"]
    return "\r\n".join([*lines, "END:VCARD"]) + "\r\n"


def _with_note(text: str, note: str) -> str:
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    kept = [line for line in lines if not line.startswith("NOTE:")]
    return "\r\n".join([*kept[:-1], f"NOTE:{note}", kept[-1]]) + "\r\n"


def _save(path: Path, text: str) -> None:
    """What an editor does: write a temp file and rename it over the card."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)


@pytest.fixture
def engine(live_sandbox: str, tmp_path: Path) -> Iterator[SyncEngine]:
    engine = make_engine(tmp_path / "bridge", live_sandbox)
    yield engine
    engine.close()


def _assert_last_save_won(
    engine: SyncEngine,
    book: Book,
    watcher: FolderWatcher,
    sandbox_app: SandboxApp,
    path: Path,
    last: str,
) -> None:
    eventually(lambda: engine.outbox.count(book.id) == 0, what="outbox drained")
    time.sleep(2 * watcher.options.refresh + watcher.options.debounce + 4 * LATENCY)
    assert f"NOTE:{last}" in path.read_text(encoding="utf-8"), "the last save was overwritten"
    record = watcher.mirror.state.get(path.name)
    assert record is not None
    row = engine.store.get(book.id, record.href)
    assert row is not None and f"NOTE:{last}" in row.vcard, "the store lost the last save"
    notes = [c.get("notes") for c in sandbox_app.dump(TOKEN)]
    assert last in notes, f"Aurinko holds {notes}"
    kept = list((engine.data_dir / "conflicts").rglob("*.vcf"))
    assert not any(last in p.read_text(encoding="utf-8") for p in kept), "set aside in conflicts/"


@pytest.mark.slow
@pytest.mark.parametrize("rhythm", sorted(RHYTHMS))
@pytest.mark.sandbox(seed_contacts=people(1))
def test_a_save_landing_during_the_import_of_the_previous_one_wins(
    engine: SyncEngine, sandbox_app: SandboxApp, tmp_path: Path, rhythm: str
) -> None:
    options, between = RHYTHMS[rhythm]
    book = engine.book("alice", "work")
    assert book is not None
    folder = tmp_path / "contacts"
    watcher = FolderWatcher(engine, book, folder, options)
    watcher.start()
    try:
        (path,) = folder.glob("*.vcf")
        original = path.read_text(encoding="utf-8")
        time.sleep(1.0)  # the watcher's first pull is done before Aurinko slows down
        sandbox_app.set_faults(latency=LATENCY)
        for round_ in range(3):  # an existing card, edited twice in quick succession
            last = f"round {round_} save 2"
            _save(path, _with_note(original, f"round {round_} save 1"))
            time.sleep(between)
            _save(path, _with_note(original, last))
            _assert_last_save_won(engine, book, watcher, sandbox_app, path, last)

        fresh = folder / "fresh.vcf"  # a new card, saved twice as quickly
        _save(fresh, _card("uid-fresh", "fresh save 1"))
        time.sleep(between)
        _save(fresh, _card("uid-fresh", "fresh save 2"))
        _assert_last_save_won(engine, book, watcher, sandbox_app, fresh, "fresh save 2")
    finally:
        sandbox_app.set_faults(latency=0.0)
        watcher.stop()
