"""export and import through the real CLI, and khard reading what export wrote."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.sandbox import SandboxApp
from tests.conftest import TOKEN
from tests.folder.conftest import bridge, people


@pytest.mark.sandbox(seed_contacts=people(12))
def test_export_writes_one_stable_file_per_contact(
    tmp_path: Path, config_file: Path, sandbox_app: SandboxApp
) -> None:
    out = tmp_path / "vdir"
    first = bridge("export", str(out), "--config", str(config_file))
    assert first.returncode == 0, first.stderr
    assert "12 written, 0 unchanged" in first.stdout
    files = sorted(p.name for p in out.glob("*.vcf"))
    assert len(files) == 12
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.vcf")}

    contact = sandbox_app.dump(TOKEN)[0]
    sandbox_app_client_patch(sandbox_app, contact["id"], {"nickName": "Changed"})
    second = bridge("export", str(out), "--config", str(config_file))
    assert "1 written, 11 unchanged" in second.stdout, second.stdout
    assert sorted(p.name for p in out.glob("*.vcf")) == files  # stable names
    changed = [p.name for p in out.glob("*.vcf") if p.stat().st_mtime_ns != mtimes[p.name]]
    assert len(changed) == 1
    assert "NICKNAME:Changed" in (out / changed[0]).read_text(encoding="utf-8")
    assert not list(out.glob(".*"))  # no temp files left behind

    v4 = bridge("export", str(tmp_path / "v4"), "--config", str(config_file), "--version", "4.0")
    assert v4.returncode == 0
    assert all("VERSION:4.0" in p.read_text() for p in (tmp_path / "v4").glob("*.vcf"))


def sandbox_app_client_patch(app: SandboxApp, contact_id: str, fields: dict) -> None:
    import httpx

    client = httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://sandbox/v1",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    etag = client.get(f"/contacts/{contact_id}").json()["etag"]
    client.patch(
        f"/contacts/{contact_id}", json=fields, headers={"If-Match": etag}
    ).raise_for_status()


@pytest.mark.sandbox(seed_contacts=people(5))
def test_khard_lists_and_shows_the_exported_folder(tmp_path: Path, config_file: Path) -> None:
    out = tmp_path / "vdir"
    assert bridge("export", str(out), "--config", str(config_file)).returncode == 0
    khard_config = tmp_path / "khard.conf"
    khard_config.write_text(
        f"[addressbooks]\n[[work]]\npath = {out}\n\n[general]\ndefault_action = list\n",
        encoding="utf-8",
    )
    khard = shutil.which("khard") or str(Path(sys.executable).parent / "khard")
    listed = subprocess.run(
        [khard, "-c", str(khard_config), "list"], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    for i in range(5):
        assert f"Person {i}" in listed.stdout or f"Given{i} Family{i}" in listed.stdout
    shown = subprocess.run(
        [khard, "-c", str(khard_config), "show", "Family3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "p3@example.com" in shown.stdout


MULTI = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:imp-1\r\nFN:Imported One\r\nEMAIL:one@example.com\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Uid\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:broken\r\nFN:Broken\r\nBDAY:\x00\x01garbage\r\n"
)


def test_import_multi_card_file_reports_and_dedupes(
    tmp_path: Path, config_file: Path, sandbox_app: SandboxApp
) -> None:
    source = tmp_path / "export.vcf"
    source.write_text(MULTI, encoding="utf-8")
    first = bridge("import", str(source), "--config", str(config_file))
    assert first.returncode == 0, first.stderr
    assert "2 created, 0 updated, 0 unchanged, 1 invalid" in first.stdout
    assert f"{source}:15: " in first.stdout  # file and line of the bad card
    names = sorted(c["name"]["displayName"] for c in sandbox_app.dump(TOKEN))
    assert names == ["Imported One", "No Uid"]

    again = bridge("import", str(source), "--config", str(config_file))
    assert "0 created, 0 updated, 2 unchanged, 1 invalid" in again.stdout, again.stdout
    assert len(sandbox_app.dump(TOKEN)) == 2  # the UID-less card is matched by content

    source.write_text(MULTI.replace("FN:Imported One", "FN:Imported Once More"), encoding="utf-8")
    third = bridge("import", str(source), "--config", str(config_file))
    assert "1 updated" in third.stdout
    names = [c["name"]["displayName"] for c in sandbox_app.dump(TOKEN)]
    assert "Imported Once More" in names and "Imported One" not in names


@pytest.mark.slow
def test_import_of_a_folder_and_thousands_of_cards(
    tmp_path: Path, config_file: Path, sandbox_app: SandboxApp
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    big = "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bulk-{i}\r\nFN:Bulk {i}\r\nTEL;TYPE=CELL:+1555{i:07d}\r\nEND:VCARD\r\n"
        for i in range(2000)
    )
    (folder / "all.vcf").write_text(big, encoding="utf-8")
    (folder / "single.vcf").write_text(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:single\r\nFN:Single\r\nEND:VCARD\r\n", encoding="utf-8"
    )
    (folder / ".hidden.vcf.swp").write_text("junk", encoding="utf-8")
    result = bridge("import", str(folder), "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    assert "2001 created, 0 updated, 0 unchanged, 0 invalid" in result.stdout
    assert len(sandbox_app.dump(TOKEN)) == 2001


def test_import_errors_are_clear(tmp_path: Path, config_file: Path) -> None:
    missing = bridge("import", str(tmp_path / "nope.vcf"), "--config", str(config_file))
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    junk = tmp_path / "junk.vcf"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    result = bridge("import", str(junk), "--config", str(config_file))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
