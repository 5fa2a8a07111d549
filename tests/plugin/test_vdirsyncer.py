"""vdirsyncer, a real CardDAV client, syncing a book to a folder and back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TOKEN
from tests.plugin.conftest import Server, card

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


def _vdirsyncer(config: Path, *args: str) -> None:
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
    _vdirsyncer(config, "sync")
    assert (_local(tmp_path), _remote_names(server)) == before
