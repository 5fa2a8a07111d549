"""README blocks about trying and running the bridge, run as written (paths and ports
aside): "Try it without an Aurinko account", the systemd unit of "Running as a systemd
service" (``systemd-analyze verify``, then its ExecStart line run and stopped with SIGTERM as
systemd would), "Backups" (a backup taken while the store is open, restored elsewhere,
holding the cards) and the ``-v`` of "Logs". ("Moving from SQLite to PostgreSQL" runs in
tests/cli/test_store_copy.py.)"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import pytest

from bridge.config import load_config
from bridge.htpasswd import set_password
from bridge.sync import SyncEngine
from tests.cli.serving import BRIDGE, start_serve, stop_serve
from tests.ports import reserved_port
from tests.readme import Block, blocks
from tests.sync.conftest import vcard
from tests.wait import eventually

EXECUTABLE = Path(sys.executable).parent / "aurinko-bridge"


def _script(block: Block, home: Path, **replace: str) -> str:
    """A shell block as a script: ``aurinko-bridge`` is this checkout's, ``~`` is ``home``."""
    assert block.lang == "sh", block
    text = block.text.replace("~/", f"{home}/")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return f"set -e\nalias aurinko-bridge={shlex.quote(str(EXECUTABLE))}\nshopt -s expand_aliases\n{text}"


def _run(script: str, home: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Output through files, not pipes: a job the script leaves running (``&``) would hold
    a pipe open, and reading it would never end."""
    env = dict(os.environ, HOME=str(home))
    out, err = home / "script.out", home / "script.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        done = subprocess.run(
            ["bash", "-c", script],
            input=stdin.encode(),
            stdout=stdout,
            stderr=stderr,
            timeout=120,
            env=env,
        )
    return subprocess.CompletedProcess(done.args, done.returncode, out.read_text(), err.read_text())


# -- Try it without an Aurinko account -------------------------------------------------


def test_try_it_without_an_account_sets_up_the_sandbox_and_the_configuration(
    tmp_path: Path,
) -> None:
    setup, link = blocks("Try it without an Aurinko account")
    port = reserved_port()
    script = _script(
        setup, tmp_path, **{"--port 8800 &": f"--port {port} &\necho $! > ../sandbox.pid"}
    )
    script = script.replace("127.0.0.1:8800", f"127.0.0.1:{port}")
    done = _run(script, tmp_path, stdin="alice-pw\nalice-pw\n")
    folder = tmp_path / "bridge-try"
    pid = int((tmp_path / "sandbox.pid").read_text())
    try:
        assert done.returncode == 0, done.stderr
        config = load_config(folder / "bridge.toml")
        assert config.aurinko is not None and config.aurinko.client_id == "demo-app"
        assert config.aurinko.base_url == f"http://127.0.0.1:{port}/v1"
        assert config.webhooks is not None and config.webhooks.read_secret() == "demo-signing"
        assert stat.S_IMODE((folder / "aurinko.secret").stat().st_mode) == 0o600

        def answers() -> bool:
            try:
                got = httpx.get(
                    f"http://127.0.0.1:{port}/v1/account",
                    headers={"Authorization": "Bearer unused"},
                    timeout=5,
                )
            except httpx.TransportError:
                return False
            return got.status_code == 200

        eventually(answers, timeout=30, what="the sandbox answering")
    finally:
        os.kill(pid, signal.SIGTERM)
    assert "aurinko-bridge account add contacts --service Google" in link.text
    assert "aurinko-bridge serve --config bridge.toml" in link.text


# -- Running as a systemd service ---------------------------------------------------------


def _unit() -> str:
    [unit] = [b.text for b in blocks("Running as a systemd service") if b.lang == "ini"]
    return unit


def _unit_keys(unit: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in unit.splitlines() if "=" in line]
    return {key: value for key, value in pairs}


def _as_here(unit: str, folder: Path) -> str:
    return unit.replace("/opt/aurinko-bridge/bin/aurinko-bridge", str(EXECUTABLE)).replace(
        "/var/lib/aurinko-bridge", str(folder)
    )


def test_the_unit_has_what_a_service_needs() -> None:
    keys = _unit_keys(_unit())
    assert keys["ExecStart"].endswith(
        "aurinko-bridge serve --config /var/lib/aurinko-bridge/bridge.toml"
    )
    assert keys["Restart"] == "on-failure" and keys["User"] == "aurinko-bridge"
    assert keys["ProtectSystem"] == "strict" and keys["ReadWritePaths"] == "/var/lib/aurinko-bridge"
    assert keys["NoNewPrivileges"] == "yes" and keys["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = tmp_path / "aurinko-bridge.service"
    unit.write_text(_as_here(_unit(), tmp_path), encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_units_command_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """ExecStart as written, in WorkingDirectory, with a configuration as the section says
    (relative paths); systemd's stop is a SIGTERM, and a clean stop exits 0."""
    set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    port = reserved_port()
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'[server]\nport = {port}\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    keys = _unit_keys(_as_here(_unit(), tmp_path))
    process = subprocess.Popen(
        shlex.split(keys["ExecStart"]),
        cwd=keys["WorkingDirectory"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    assert f"CardDAV server at http://127.0.0.1:{port}/" in banner, banner
    answer = httpx.request(
        "PROPFIND", f"http://127.0.0.1:{port}/alice/", auth=("alice", "alice-pw"), timeout=30
    )
    assert answer.status_code == 207
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in err, err


# -- Logs ---------------------------------------------------------------------------------


def test_dash_v_serve_adds_information_lines(tmp_path: Path) -> None:
    block = blocks("Logs")[0]
    assert block.text.strip() == "aurinko-bridge -v serve --config bridge.toml"
    set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = tmp_path / "bridge.toml"
    config.write_text('[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n', encoding="utf-8")
    config.chmod(0o600)
    process, _ = start_serve(config, verbose=1)
    err = stop_serve(process)
    assert "INFO " in err and "DEBUG " not in err, err


# -- Backups ------------------------------------------------------------------------------


def _install(home: Path) -> Path:
    """``~/bridge`` as "From an empty machine" leaves it: configuration, users, a token, a
    store holding cards (a local book: no Aurinko needed here)."""
    folder = home / "bridge"
    folder.mkdir()
    set_password(folder / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = folder / "bridge.toml"
    config.write_text('[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n', encoding="utf-8")
    config.chmod(0o600)
    (folder / "tokens").mkdir(mode=0o700)
    (folder / "tokens" / "alice.contacts.token").write_text("a-token\n")
    return folder


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 command here")
def test_the_backup_taken_while_the_store_is_open_restores_with_its_cards(tmp_path: Path) -> None:
    take, restore = [b for b in blocks("Backups") if "sqlite3" in b.text or "tar -x" in b.text]
    home = tmp_path / "home"
    home.mkdir()
    folder = _install(home)
    engine = SyncEngine(folder / "var")  # open, as serve holds it
    try:
        book = engine.create_local_book("alice", "private", {})
        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann Backup"))
        engine.put(book, "bob.vcf", vcard("uid-bob", "Bob Backup"))
        done = _run(_script(take, home), home)
        assert done.returncode == 0, done.stderr
    finally:
        engine.close()
    archive = home / "bridge-backup.tar.gz"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # it holds contacts and tokens
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert "./backup.sqlite3" in names and "./tokens/alice.contacts.token" in names
    assert "./var/store.sqlite3" not in names and "./users.htpasswd" in names

    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(archive, other / "bridge-backup.tar.gz")
    done = _run(_script(restore, other), other)
    assert done.returncode == 0, done.stderr
    restored = other / "bridge" / "var" / "store.sqlite3"
    with sqlite3.connect(restored) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        cards = [row[0] for row in db.execute("SELECT vcard FROM contacts ORDER BY href")]
    assert ["FN:Ann Backup" in cards[0], "FN:Bob Backup" in cards[1]] == [True, True]
    status = subprocess.run(
        [*BRIDGE, "status", "--offline", "--config", str(other / "bridge" / "bridge.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "alice/private (local)" in status.stdout and "2 contacts" in status.stdout, status
