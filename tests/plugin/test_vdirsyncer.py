"""vdirsyncer, a real CardDAV client, syncing a book to a folder and back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TOKEN
from tests.plugin.conftest import Server, card, unfolded
from tests.sync.test_versions import ADA_4, BOB_3

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vcards"
VDIRSYNCER = shutil.which("vdirsyncer") or str(Path(sys.executable).parent / "vdirsyncer")


def _config(tmp_path: Path, server: Server) -> Path:
    folder = tmp_path / "contacts"
    folder.mkdir()
    config = tmp_path / "vdirsyncer.conf"
    config.write_text(
        f"""
[general]
status_path = "{tmp_path / "status"}/"

[pair book]
a = "book_local"
b = "book_remote"
collections = null
conflict_resolution = "b wins"

[storage book_local]
type = "filesystem"
path = "{folder}/"
fileext = ".vcf"

[storage book_remote]
type = "carddav"
url = "{server.book_url}"
username = "alice"
password = "alice-pw"
""",
        encoding="utf-8",
    )
    return config


def _vdirsyncer(config: Path, *args: str) -> str:
    """Runs vdirsyncer and returns what it printed (its log of every transfer)."""
    result = subprocess.run(
        [VDIRSYNCER, "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        input="y\n",
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
    return result.stdout + result.stderr


def _transfers(output: str) -> list[str]:
    """The lines where vdirsyncer says it uploads, updates or deletes an item, either way."""
    moves = ("Copying (uploading)", "Copying (updating)", "Deleting item", "conflict resolution")
    return [line for line in output.splitlines() if any(m in line for m in moves)]


def _local(tmp_path: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "contacts").glob("*.vcf")}


def _remote_names(server: Server) -> list[str]:
    return sorted(c["name"]["displayName"] for c in server.sandbox.dump(TOKEN))


@pytest.mark.slow
def test_vdirsyncer_round_trip_both_ways(server: Server, tmp_path: Path) -> None:
    ids = [server.remote.create({"name": {"displayName": f"Remote {i}"}}).id for i in range(3)]
    config = _config(tmp_path, server)
    _vdirsyncer(config, "discover")
    _vdirsyncer(config, "sync")
    local = _local(tmp_path)
    assert len(local) == 3
    assert sorted(t.split("FN:")[1].split("\r\n")[0].split("\n")[0] for t in local.values()) == [
        "Remote 0",
        "Remote 1",
        "Remote 2",
    ]

    # Local side: create, edit, delete.
    folder = tmp_path / "contacts"
    (folder / "new.vcf").write_text(card("uid-new", "Local New"), encoding="utf-8")
    edited_name, edited_text = next(iter(sorted(local.items())))
    (folder / edited_name).write_text(
        edited_text.replace("END:VCARD", "NICKNAME:edited locally\r\nEND:VCARD"), encoding="utf-8"
    )
    deleted_name = sorted(local)[1]
    (folder / deleted_name).unlink()
    _vdirsyncer(config, "sync")
    remote = server.sandbox.dump(TOKEN)
    assert "Local New" in _remote_names(server)
    assert len(remote) == 3  # 3 remote + 1 new - 1 deleted
    assert [c.get("nickName") for c in remote if c.get("nickName")] == ["edited locally"]

    # Remote side: create, edit, delete through Aurinko.
    survivors = [c["id"] for c in remote if c["id"] in ids and not c.get("nickName")]
    server.remote.create({"name": {"displayName": "Remote Late"}})
    current = server.remote.get(survivors[0])
    server.remote.update(survivors[0], {"notes": "remote note"}, etag=current["etag"])
    gone = next(c["id"] for c in remote if c.get("nickName"))
    server.remote.delete(gone)
    _vdirsyncer(config, "sync")
    local = _local(tmp_path)
    texts = "\n".join(local.values())
    assert len(local) == 3
    assert "Remote Late" in texts and "remote note" in texts
    assert "edited locally" not in texts

    # A second sync with no changes is a no-op on both sides.
    before = (_local(tmp_path), _remote_names(server))
    assert _transfers(_vdirsyncer(config, "sync")) == []
    assert (_local(tmp_path), _remote_names(server)) == before


@pytest.mark.slow
def test_vdirsyncer_uploads_4_0_cards_once(server: Server, tmp_path: Path) -> None:
    """vCard 4.0 cards (and a 3.0 one) written in the folder go up once and are served as
    written, under the ETag of the PUT answer: the next sync moves nothing either way
    (it used to download them again as 3.0 and overwrite the files)."""
    config = _config(tmp_path, server)
    _vdirsyncer(config, "discover")
    folder = tmp_path / "contacts"
    cards = {
        "ada.vcf": ADA_4,
        "bob.vcf": BOB_3,
        "tb115.vcf": (FIXTURES / "thunderbird" / "tb115.vcf").read_text("utf-8"),
        "davx5.vcf": (FIXTURES / "davx5" / "davx5-4.0.vcf").read_text("utf-8"),
    }
    for name, text in cards.items():
        (folder / name).write_bytes(text.encode("utf-8"))
    uploaded = _transfers(_vdirsyncer(config, "sync"))
    assert len(uploaded) == 4 and all("Copying (uploading)" in line for line in uploaded)
    before = {p.name: p.read_bytes() for p in folder.glob("*.vcf")}
    assert _transfers(_vdirsyncer(config, "sync")) == []
    assert {p.name: p.read_bytes() for p in folder.glob("*.vcf")} == before
    assert len(server.sandbox.dump(TOKEN)) == 4
    for item in server.engine.store.list_items(server.book.id):
        sent = next(t for t in cards.values() if f"UID:{item.uid}" in t)
        assert unfolded(item.vcard) == unfolded(sent)
