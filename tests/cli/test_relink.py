"""``aurinko-bridge account relink``: a dead token renewed in place while ``serve`` runs
(issue 22, point 2). The sandbox (Aurinko and its consent page) in its own process kills the
account's grant; writes made meanwhile queue; ``status`` and the status page say what to
run; the relink's consent in a real headless browser gives the same Aurinko account a new
token, and serve, never restarted, sends the queued writes with it. The book and its sync
state are the ones it had."""

from __future__ import annotations

import re
import sqlite3
import stat
import subprocess
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from bridge.store.database import STORE_FILE
from tests.cli.serving import serving
from tests.cli.test_account import (  # noqa: F401  (``sandbox`` is a fixture)
    ENV,
    Setup,
    _names,
    _setup,
    consent,
    finish,
    run,
    sandbox,
    start_add,
    start_consent,
)
from tests.wait import polled

ALICE = ("alice", "alice-pw")
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}'
    "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
    "</D:sync-collection>"
)
DEAD = "token dead: run aurinko-bridge account relink alice/work"


def _card(uid: str, fn: str, *extra: str) -> bytes:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{fn}", *extra, "END:VCARD"]
    return ("\r\n".join(lines) + "\r\n").encode()


def _sync(client: httpx.Client, token: str) -> tuple[str, set[str]]:
    answer = client.request(
        "REPORT",
        "/alice/work/",
        content=SYNC.format(token=token),
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    assert answer.status_code == 207, answer.text
    tree = ET.fromstring(answer.content)
    hrefs = {h.text or "" for h in tree.iter("{DAV:}href")}
    return tree.findtext("{DAV:}sync-token") or "", {h for h in hrefs if h.endswith(".vcf")}


def _book(setup: Setup) -> tuple[int, int]:
    """The book's id and its full-resync count, from the store."""
    with sqlite3.connect(setup.folder / "var" / STORE_FILE) as db:
        (row,) = db.execute("SELECT id, resync_generation FROM books WHERE name = 'work'")
    return int(row[0]), int(row[1])


def _link(setup: Setup, page: Page) -> tuple[int, str]:
    """``account add work`` through the consent page: the Aurinko account id, the token."""
    process, url = start_add(setup.config, "work")
    assert "alice/work is linked" in consent(page, url, "approve")
    status, out, err = finish(process)
    assert status == 0, err
    found = re.search(r"Linked alice/work \(Aurinko account (\d+)\)", out)
    assert found is not None, out
    return int(found.group(1)), (setup.folder / "tokens" / "alice.work.token").read_text().strip()


def _start_relink(config: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    args = ["account", "relink", "work", "--config", str(config), "--no-browser", *extra]
    return start_consent("work", *args)


@pytest.mark.slow
def test_relink_renews_a_dead_token_while_serve_runs_and_the_queued_writes_go_up(
    tmp_path: Path,
    sandbox: str,  # noqa: F811  (the fixture imported above)
    page: Page,
) -> None:
    setup = _setup(tmp_path, sandbox)
    setup.config.write_text(setup.config.read_text().replace("interval = 3600", "interval = 1"))
    account_id, old_token = _link(setup, page)
    root = sandbox.removesuffix("/v1")
    token_file = setup.folder / "tokens" / "alice.work.token"

    with serving(setup.config) as url, httpx.Client(base_url=url, auth=ALICE, timeout=30) as dav:
        assert dav.put("/alice/work/ann.vcf", content=_card("ann", "Ann")).status_code == 201
        names = polled(lambda: _names(root, old_token), lambda found: "Ann" in found)
        assert names == ["Ann"]
        sync_token, _ = _sync(dav, "")
        book = _book(setup)

        # The provider grant dies (a password change, an admin's revocation).
        killed = httpx.put(
            f"{root}/_sandbox/account",
            json={"tokenStatus": "dead"},
            headers={"Authorization": f"Bearer {old_token}"},
        )
        assert killed.status_code == 200
        assert dav.put("/alice/work/bo.vcf", content=_card("bo", "Bo")).status_code == 201
        edited = _card("ann", "Ann", "NOTE:edited while dead")
        assert dav.put("/alice/work/ann.vcf", content=edited).status_code == 204
        status = run("status", "--config", str(setup.config))
        assert status.returncode == 0, status.stderr
        assert DEAD in status.stdout and "2 writes waiting" in status.stdout, status.stdout
        assert DEAD in dav.get("/.bridge/").text
        assert _names(root, old_token) == ["Ann"]  # nothing went up

        before = setup.config.read_bytes()
        process, address = _start_relink(setup.config)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(address).query)
        assert query["accountId"] == [str(account_id)] and query["serviceType"] == ["Google"]
        assert "alice/work is linked" in consent(page, address, "approve")
        code, out, err = finish(process)
        assert code == 0, err
        assert f"Relinked alice/work (Aurinko account {account_id})" in out
        new_token = token_file.read_text().strip()
        assert new_token and new_token != old_token and new_token not in out + err
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert setup.config.read_bytes() == before  # the configuration is untouched
        assert not [p for p in token_file.parent.iterdir() if p.name != token_file.name]

        # serve, never restarted, uses the new token: the queued writes reach the account.
        def upstream() -> dict[str, str]:
            dump = httpx.get(
                f"{root}/_sandbox/contacts", headers={"Authorization": f"Bearer {new_token}"}
            ).json()["contacts"]
            return {c["name"]["displayName"]: c.get("notes", "") for c in dump}

        done = polled(upstream, lambda found: found == {"Ann": "edited while dead", "Bo": ""})
        assert done == {"Ann": "edited while dead", "Bo": ""}
        assert _book(setup) == book  # the same book, no full resync
        _, changed = _sync(dav, sync_token)  # the old sync token still works
        assert changed == {"/alice/work/ann.vcf", "/alice/work/bo.vcf"}
        status = run("status", "--config", str(setup.config))
        assert "token works" in status.stdout and "0 writes waiting" in status.stdout


def test_relink_of_an_unknown_account_or_an_env_token_fails_with_one_line(
    tmp_path: Path,
    sandbox: str,  # noqa: F811
) -> None:
    setup = _setup(tmp_path, sandbox)
    missing = run("account", "relink", "work", "--config", str(setup.config))
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
    assert "work" in missing.stderr and "Traceback" not in missing.stderr
    with setup.config.open("a") as out:
        out.write('\n[[accounts]]\nname = "env"\nuser = "alice"\ntoken_env = "SOME_TOKEN"\n')
    env_token = run("account", "relink", "alice/env", "--config", str(setup.config))
    assert env_token.returncode != 0 and "SOME_TOKEN" in env_token.stderr
    assert len(env_token.stderr.strip().splitlines()) == 1
    (setup.folder / "stale.token").write_text("a-token-aurinko-never-issued\n")
    (setup.folder / "stale.token").chmod(0o600)
    with setup.config.open("a") as out:
        out.write('\n[[accounts]]\nname = "stale"\nuser = "alice"\ntoken_file = "stale.token"\n')
    stale = run("account", "relink", "alice/stale", "--config", str(setup.config))
    assert stale.returncode != 0 and "--account-id" in stale.stderr, stale.stderr
