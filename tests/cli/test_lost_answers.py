"""Writes whose answers are lost, then the bridge killed with SIGKILL, then a `sync`: every
card ends upstream once, at its last version, and a deleted one stays deleted.

Real processes over loopback: ``serve``, then ``aurinko-bridge sync`` on the same data
directory; Aurinko (the sandbox) acts on every request and drops the connection before
answering while the client writes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from bridge.htpasswd import set_password
from bridge.sandbox import SandboxApp
from tests.cli.serving import BRIDGE, serving, start_serve
from tests.conftest import TOKEN, write_bridge_config

BOOK = "/alice/work/"
ALICE = ("alice", "alice-pw")


def card(fn: str, *extra: str) -> str:
    return (
        "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", "UID:lost", f"FN:{fn}", *extra, "END:VCARD"])
        + "\r\n"
    )


@pytest.mark.parametrize("then", ["update", "delete"])
def test_writes_behind_a_lost_create_survive_a_sigkill(
    sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path, then: str
) -> None:
    set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = write_bridge_config(tmp_path, live_sandbox)
    text = config.read_text().replace("[server]\n", '[server]\nhtpasswd = "users.htpasswd"\n')
    # Each write waits for its push (the write_wait opt-in): the first one's create must
    # reach Aurinko, its answer lost, before the next write, not be folded into it.
    text = text.replace("[sync]\n", "[sync]\nwrite_wait = 30\n")
    config.write_text(text)
    process, url = start_serve(config)
    try:
        with httpx.Client(base_url=url, auth=ALICE, timeout=30) as client:
            assert client.request("PROPFIND", BOOK, headers={"Depth": "1"}).status_code == 207
            sandbox_app.set_faults(drop_after_rate=1.0)  # acted upon, never answered
            assert client.put(BOOK + "lost.vcf", content=card("First")).status_code == 201
            if then == "update":
                second = client.put(BOOK + "lost.vcf", content=card("Second", "NICKNAME:2"))
                assert second.status_code == 204
            else:
                assert client.delete(BOOK + "lost.vcf").status_code in (200, 204)
    finally:
        process.kill()  # SIGKILL: nothing is flushed, nothing is finished
        process.communicate(timeout=60)
    assert [c["name"]["displayName"] for c in sandbox_app.dump(TOKEN)] == ["First"]

    sandbox_app.set_faults(drop_after_rate=0.0)
    synced = subprocess.run(
        [*BRIDGE, "sync", "--config", str(config)], capture_output=True, text=True, timeout=120
    )
    assert synced.returncode == 0, synced.stderr
    upstream = sandbox_app.dump(TOKEN)
    if then == "update":  # once, at its last version
        assert [(c["name"]["displayName"], c.get("nickName")) for c in upstream] == [
            ("Second", "2")
        ]
    else:  # deleted, and not brought back by the pull that found the lost create
        assert upstream == []

    with serving(config) as url, httpx.Client(base_url=url, auth=ALICE, timeout=30) as client:
        listing = client.request("PROPFIND", BOOK, headers={"Depth": "1"})
        cards = re.findall(r"/alice/work/([^<]+\.vcf)<", listing.text)
        if then == "update":
            assert cards == ["lost.vcf"]
            assert "FN:Second" in client.get(BOOK + "lost.vcf").text
        else:
            assert cards == []
