"""Two users with an account of the same name: each sees and writes only their own
Aurinko account, over CardDAV and through sync, export, import and watch (real processes)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bridge.htpasswd import set_password
from bridge.sandbox import SandboxApp
from tests.cli.serving import BRIDGE, serving
from tests.conftest import OTHER_TOKEN, TOKEN
from tests.wait import eventually

USERS = {"alice": TOKEN, "bob": OTHER_TOKEN}
WATCH_ALICE = ["--account", "alice/contacts", "--interval", "0.5"]


@dataclass
class Setup:
    config: Path
    sandbox: SandboxApp
    tmp: Path

    def names(self, user: str) -> list[str]:
        """Display names in ``user``'s Aurinko account, as the sandbox holds them."""
        return sorted(c["name"]["displayName"] for c in self.sandbox.dump(USERS[user]))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BRIDGE, *args], capture_output=True, text=True, timeout=120, check=False
    )


def card(uid: str, fn: str) -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn}\r\nEND:VCARD\r\n"


@pytest.fixture
def setup(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Setup:
    accounts = ""
    for user, token in USERS.items():
        token_file = tmp_path / f"{user}.token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        accounts += (
            f'[[accounts]]\nname = "contacts"\nuser = "{user}"\nbase_url = "{live_sandbox}"\n'
            f'token_file = "{user}.token"\n\n'
        )
        headers = {"Authorization": f"Bearer {token}"}
        contact = {"name": {"displayName": f"{user.title()} Friend"}}
        httpx.post(f"{live_sandbox}/contacts", json=contact, headers=headers).raise_for_status()
    htpasswd = tmp_path / "users.htpasswd"
    for user in USERS:
        set_password(htpasswd, user, f"{user}-pw", rounds=4)
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n\n{accounts}', encoding="utf-8"
    )
    config.chmod(0o600)
    return Setup(config, sandbox_app, tmp_path)


def test_sync_export_and_import_keep_each_users_account(setup: Setup) -> None:
    synced = run("sync", "--config", str(setup.config))
    assert synced.returncode == 0, synced.stderr
    for user in USERS:
        folder = setup.tmp / f"export-{user}"
        done = run(
            "export", str(folder), "--config", str(setup.config), "--account", f"{user}/contacts"
        )
        assert done.returncode == 0, done.stderr
        texts = "".join(p.read_text() for p in folder.glob("*.vcf"))
        assert f"FN:{user.title()} Friend" in texts
        other = "Bob" if user == "alice" else "Alice"
        assert f"{other} Friend" not in texts

    (setup.tmp / "new.vcf").write_text(card("for-bob", "Imported For Bob"))
    imported = run("import", str(setup.tmp / "new.vcf"), "--config", str(setup.config),
                   "--account", "bob/contacts")  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert setup.names("bob") == ["Bob Friend", "Imported For Bob"]
    assert setup.names("alice") == ["Alice Friend"]


def test_an_ambiguous_account_name_is_refused_with_the_choices(setup: Setup) -> None:
    result = run("export", str(setup.tmp / "out"), "--config", str(setup.config),
                 "--account", "contacts")  # fmt: skip
    assert result.returncode != 0
    assert "alice/contacts or bob/contacts" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (setup.tmp / "out").exists()


def test_a_duplicate_book_is_refused(setup: Setup) -> None:
    text = setup.config.read_text()
    bob = text[text.index('[[accounts]]\nname = "contacts"\nuser = "bob"') :]
    setup.config.write_text(text + bob.replace('"bob"', '"Alice"'))
    result = run("sync", "--config", str(setup.config))
    assert result.returncode != 0
    assert "#1 (/alice/contacts/) and #3 (/Alice/contacts/) name the same" in result.stderr, (
        result.stderr
    )


@pytest.mark.slow
def test_watch_pushes_into_the_watching_users_account(setup: Setup) -> None:
    folder = setup.tmp / "watched"
    process = subprocess.Popen(
        [*BRIDGE, "watch", str(folder), "--config", str(setup.config), *WATCH_ALICE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually(lambda: any(folder.glob("*.vcf")), what="initial export", timeout=60)
        assert "Bob Friend" not in "".join(p.read_text() for p in folder.glob("*.vcf"))
        (folder / "watched.vcf").write_text(card("watched", "Watched By Alice"))
        eventually(lambda: "Watched By Alice" in setup.names("alice"), what="push", timeout=60)
        assert setup.names("bob") == ["Bob Friend"]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert "Traceback" not in err


@pytest.fixture
def served(setup: Setup) -> Iterator[str]:
    with serving(setup.config) as url:
        yield url


def test_carddav_serves_and_writes_each_users_own_account(setup: Setup, served: str) -> None:
    for user in USERS:
        with httpx.Client(base_url=served, auth=(user, f"{user}-pw"), timeout=30) as client:
            listing = client.request(
                "REPORT",
                f"/{user}/contacts/",
                headers={"Depth": "1"},
                content=(
                    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"'
                    ' xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:sync-token/>'
                    "<D:sync-level>1</D:sync-level><D:prop><CR:address-data/></D:prop>"
                    "</D:sync-collection>"
                ),
            )
            assert listing.status_code == 207
            other = "Bob" if user == "alice" else "Alice"
            assert f"FN:{user.title()} Friend" in listing.text
            assert f"{other} Friend" not in listing.text
            put = client.put(f"/{user}/contacts/mine.vcf", content=card("mine", f"Put By {user}"))
            assert put.status_code == 201, put.text
    eventually(lambda: f"Put By {'alice'}" in setup.names("alice"), what="alice's PUT pushed")
    eventually(lambda: "Put By bob" in setup.names("bob"), what="bob's PUT pushed")
    assert setup.names("alice") == ["Alice Friend", "Put By alice"]
    assert setup.names("bob") == ["Bob Friend", "Put By bob"]
