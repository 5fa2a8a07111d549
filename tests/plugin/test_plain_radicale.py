"""The plugin inside a plain Radicale (`python -m radicale`), configured by hand."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from bridge.htpasswd import set_password
from tests.conftest import TOKEN
from tests.plugin.conftest import card, write_token
from tests.ports import reserved_port
from tests.wait import eventually


def test_plain_radicale_serves_the_bridge(tmp_path: Path, live_sandbox: str) -> None:
    write_token(tmp_path)
    htpasswd = tmp_path / "users.htpasswd"
    set_password(htpasswd, "alice", "alice-pw", rounds=4)
    bridge = tmp_path / "bridge.toml"
    bridge.write_text(
        f'[server]\ndata_dir = "var"\nhtpasswd = "{htpasswd}"\n\n'
        f'[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "{live_sandbox}"\n'
        'token_file = "work.token"\n',
        encoding="utf-8",
    )
    bridge.chmod(0o600)
    port = reserved_port()
    radicale = tmp_path / "radicale.conf"
    radicale.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {htpasswd}\n"
        "htpasswd_encryption = autodetect\n\n"
        f"[storage]\ntype = radicale_plugin\nbridge_config = {bridge}\n\n"
        "[rights]\ntype = radicale_plugin.rights\n\n[web]\ntype = none\n",
        encoding="utf-8",
    )
    remote = httpx.Client(base_url=live_sandbox, headers={"Authorization": f"Bearer {TOKEN}"})
    remote.post("/contacts", json={"name": {"displayName": "From Aurinko"}}).raise_for_status()
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(radicale)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", auth=("alice", "alice-pw"), timeout=30
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                listing = client.request("PROPFIND", "/alice/work/", headers={"Depth": "1"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "radicale did not start"
                time.sleep(0.1)
        assert listing.status_code == 207
        assert listing.text.count(".vcf</") == 1  # the Aurinko contact, pulled on read
        put = client.put("/alice/work/new.vcf", content=card("uid-new", "New").encode())
        assert put.status_code == 201
        admin = live_sandbox.removesuffix("/v1") + "/_sandbox/contacts"

        def names() -> set[str]:
            return {c["name"]["displayName"] for c in remote.get(admin).json()["contacts"]}

        # The PUT answered once stored; its push to Aurinko follows in the background.
        eventually(lambda: names() == {"From Aurinko", "New"}, what="the push")
        assert names() == {"From Aurinko", "New"}
        assert client.delete("/alice/work/").status_code == 403
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "Traceback" not in err
