"""``[store] url``: the commands as processes over a PostgreSQL store. ``serve`` takes a
card over CardDAV and another process (``status``) sees it; a store that cannot be used
is one line naming it, from every command, never a traceback nor its password."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from bridge.config import StoreConfig
from bridge.htpasswd import set_password
from bridge.sandbox import SandboxApp
from tests.cli.serving import BRIDGE, serving, start_serve, stop_serve
from tests.conftest import TOKEN
from tests.postgres import PostgresServer, store_toml


def _config(folder: Path, sandbox_url: str, store: str) -> Path:
    """alice/work on the sandbox, alice's CardDAV password alice-pw, and ``store``."""
    (folder / "work.token").write_text(TOKEN + "\n")
    (folder / "work.token").chmod(0o600)
    set_password(folder / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = folder / "bridge.toml"
    config.write_text(
        '[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n\n'
        f'[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "{sandbox_url}"\n'
        f'token_file = "work.token"\n{store}',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def _bridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BRIDGE, *args], capture_output=True, text=True, timeout=120)


CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:uid-ann\r\nFN:Ann Exämple\r\nEND:VCARD\r\n"
# A listing the server streams from the store (a server-side cursor on PostgreSQL).
PROPFIND = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
    "<D:getetag/><D:getcontentlength/></D:prop></D:propfind>"
)


def test_serve_keeps_cards_in_postgresql_and_status_elsewhere_sees_them(
    tmp_path: Path, live_sandbox: str, sandbox_app: SandboxApp, pg_store: StoreConfig
) -> None:
    config = _config(tmp_path, live_sandbox, store_toml(pg_store))
    with serving(config) as url:
        with httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30) as client:
            put = client.put(
                "alice/work/ann.vcf", content=CARD, headers={"Content-Type": "text/vcard"}
            )
            assert put.status_code == 201, put.text
            got = client.get("alice/work/ann.vcf")
            assert got.status_code == 200 and "FN:Ann Exämple" in got.text
            listed = client.request(
                "PROPFIND", "alice/work/", headers={"Depth": "1"}, content=PROPFIND
            )
            assert listed.status_code == 207 and "ann.vcf" in listed.text
            size = len(got.text.encode("utf-8"))  # bytes: octet_length, not characters
            assert f"<getcontentlength>{size}</getcontentlength>" in listed.text
        status = _bridge("status", "--offline", "--config", str(config))  # meanwhile
        assert status.returncode == 0, status.stderr
        assert "alice/work (aurinko)" in status.stdout and "1 contact;" in status.stdout
    assert [c["name"]["displayName"] for c in sandbox_app.dump(TOKEN)] == ["Ann Exämple"]
    assert not (tmp_path / "var" / "store.sqlite3").exists()  # the store is PostgreSQL's
    status = _bridge("status", "--offline", "--config", str(config))  # and after a restart
    assert status.returncode == 0 and "1 contact;" in status.stdout, status.stderr


@pytest.mark.parametrize("command", ["serve", "status", "sync", "export"])
def test_a_wrong_password_is_one_line_from_every_command(
    tmp_path: Path, live_sandbox: str, pg_store: StoreConfig, command: str
) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    store = StoreConfig(url=pg_store.url, password_file=wrong)
    config = _config(tmp_path, live_sandbox, store_toml(store))
    args = [command, *([str(tmp_path / "out")] if command == "export" else []), "--config"]
    done = _bridge(*args, str(config))
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"aurinko-bridge: {command}: cannot connect to the store at {pg_store.url}: "
    )
    assert "password authentication failed" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line
    assert "Traceback" not in done.stderr and "not-the-password" not in done.stderr


def test_a_server_that_is_down_is_one_line(
    tmp_path: Path, live_sandbox: str, postgres: PostgresServer
) -> None:
    down = StoreConfig(url=postgres.url(port=1), password_file=postgres.password_file)
    config = _config(tmp_path, live_sandbox, store_toml(down))
    done = _bridge("serve", "--config", str(config))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        f"aurinko-bridge: serve: cannot connect to the store at {down.url}: "
    )
    assert "refused" in done.stderr and done.stderr.count("\n") == 1


def test_a_password_in_the_store_url_is_refused_and_never_shown(
    tmp_path: Path, live_sandbox: str, postgres: PostgresServer
) -> None:
    url = postgres.url().replace("bridge@", "bridge:hunter2@")
    config = _config(tmp_path, live_sandbox, f'\n[store]\nurl = "{url}"\n')
    done = _bridge("serve", "--config", str(config))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "[store] url must not contain a password" in done.stderr
    assert "hunter2" not in done.stderr


def test_account_remove_purge_deletes_the_copy_in_postgresql(
    tmp_path: Path, live_sandbox: str, pg_store: StoreConfig
) -> None:
    """``account`` checks whether a store exists before opening one: with PostgreSQL it
    asks the server, not the data directory."""
    config = _config(tmp_path, live_sandbox, store_toml(pg_store))
    assert _bridge("sync", "--config", str(config)).returncode == 0
    done = _bridge("account", "remove", "alice/work", "--purge", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "Deleted its local copy" in done.stdout
    status = _bridge("status", "--offline", "--config", str(config))
    assert "alice/work" not in status.stdout


def test_two_instances_on_one_host_share_one_configuration_and_data_dir(
    tmp_path: Path, live_sandbox: str, sandbox_app: SandboxApp, pg_store: StoreConfig
) -> None:
    """The README says so: on PostgreSQL, two ``serve`` of one file (on two ports) need
    nothing of their own; a write through one is read through the other."""
    config = _config(tmp_path, live_sandbox, store_toml(pg_store))
    first, first_url = start_serve(config)
    second, second_url = start_serve(config)
    try:
        auth = ("alice", "alice-pw")
        put = httpx.put(
            f"{first_url}alice/work/ann.vcf",
            content=CARD,
            headers={"Content-Type": "text/vcard"},
            auth=auth,
            timeout=30,
        )
        assert put.status_code == 201, put.text
        got = httpx.get(f"{second_url}alice/work/ann.vcf", auth=auth, timeout=30)
        assert got.status_code == 200 and "FN:Ann Exämple" in got.text
    finally:
        errors = [stop_serve(first), stop_serve(second)]
    assert all("Traceback" not in err for err in errors), errors
    assert [c["name"]["displayName"] for c in sandbox_app.dump(TOKEN)] == ["Ann Exämple"]
