"""The command line as a user meets it: real subprocesses, messages, exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bridge.paths import DEMO_CONTACTS
from tests.conftest import TOKEN, write_bridge_config

BRIDGE = [sys.executable, "-m", "bridge"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BRIDGE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_sync_with_a_config_reports_what_changed(tmp_path: Path, live_sandbox: str) -> None:
    client = httpx.Client(base_url=live_sandbox, headers={"Authorization": f"Bearer {TOKEN}"})
    for i in range(7):
        client.post("/contacts", json={"name": {"displayName": f"N{i}"}}).raise_for_status()
    config = write_bridge_config(tmp_path, live_sandbox)
    first = run("sync", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert "alice/work: 7 created, 0 updated, 0 deleted" in first.stdout
    second = run("sync", "--config", str(config), "--account", "work")
    assert "alice/work: 0 created, 0 updated, 0 deleted, 0 unchanged" in second.stdout
    assert (tmp_path / "var" / "store.sqlite3").exists()


def test_sync_without_config_uses_the_embedded_demo(tmp_path: Path) -> None:
    result = run("sync", "--demo-dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    demo = json.loads(DEMO_CONTACTS.read_text(encoding="utf-8"))
    count = len(demo["contacts"] if isinstance(demo, dict) else demo)
    assert f"demo/contacts: {count} created" in result.stdout


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p.write_text("not [toml"), "not valid TOML"),
        (
            lambda p: p.write_text('[[accounts]]\nname = "w"\nuser = "a"\ntoken = "x"\n'),
            "never put a token",
        ),
        (lambda p: p.write_text("[sync]\nconflict = 'whoever'\n"), "remote-wins or local-wins"),
        (lambda p: p.write_text("[serverr]\n"), "unknown section"),
        (lambda p: None, "cannot read"),
    ],
    ids=["toml", "inline-token", "policy", "typo", "missing"],
)
def test_bad_configuration_is_a_clear_error(tmp_path: Path, setup, message: str) -> None:
    config = tmp_path / "bad.toml"
    setup(config)
    if config.exists():
        config.chmod(0o600)
    result = run("sync", "--config", str(config))
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_readable_token_file_is_refused(tmp_path: Path, live_sandbox: str) -> None:
    config = write_bridge_config(tmp_path, live_sandbox, token_mode=0o644)
    result = run("sync", "--config", str(config))
    assert result.returncode != 0
    assert "chmod 600" in result.stderr and "Traceback" not in result.stderr


def test_unknown_account_is_a_clear_error(tmp_path: Path, live_sandbox: str) -> None:
    result = run(
        "sync", "--config", str(write_bridge_config(tmp_path, live_sandbox)), "--account", "x"
    )
    assert result.returncode != 0 and "no account 'x'" in result.stderr


def test_unreachable_aurinko_fails_with_a_message(tmp_path: Path) -> None:
    config = write_bridge_config(tmp_path, "http://127.0.0.1:9/v1")
    result = run("sync", "--config", str(config))
    assert result.returncode != 0
    assert "stopped" in result.stderr and "Traceback" not in result.stderr


def test_serve_with_no_configuration_is_a_working_carddav_server(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [*BRIDGE, "serve", "--demo-dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(4))
        server = re.search(r"CardDAV server at (http://127\.0\.0\.1:\d+/)", banner)
        book = re.search(r"address book contacts: (\S+)", banner)
        password = re.search(r"user: demo\s+password: (\S+)", banner)
        assert server and book and password, banner
        client = httpx.Client(auth=("demo", password.group(1)), timeout=30)
        found = client.request("PROPFIND", book.group(1), headers={"Depth": "1"})
        assert found.status_code == 207
        demo = json.loads(DEMO_CONTACTS.read_text(encoding="utf-8"))
        demo_count = len(demo["contacts"] if isinstance(demo, dict) else demo)
        assert found.text.count(".vcf</") == demo_count
        card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:round-trip\r\nFN:Round Trip\r\nEND:VCARD\r\n"
        put = client.put(f"{book.group(1)}round-trip.vcf", content=card.encode())
        assert put.status_code == 201
        got = client.get(f"{book.group(1)}round-trip.vcf")
        assert got.status_code == 200 and "FN:Round Trip" in got.text
        assert httpx.get(book.group(1)).status_code == 401  # authentication is always on
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err
