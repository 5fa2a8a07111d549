"""Two ``serve`` instances over one PostgreSQL store and one Aurinko (the sandbox): a client
writes through both and reads each write back through the other; the instance that owns
the book is killed with SIGKILL in the middle of a write burst, and the other takes the
book over. Every write reaches Aurinko exactly once and the client's sync token keeps
working."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bridge.config import StoreConfig
from bridge.htpasswd import set_password
from bridge.sandbox import SandboxApp
from bridge.store.locks import OWNER_KEY
from bridge.sync import EngineOptions
from tests.cli.serving import BRIDGE, start_serve, stop_serve
from tests.conftest import TOKEN
from tests.postgres import PostgresServer, store_toml
from tests.wait import eventually

WRITES = 60
KILL_AFTER = 24
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}'
    "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
    "</D:sync-collection>"
)


def _instance(folder: Path, sandbox_url: str, store: StoreConfig) -> Path:
    folder.mkdir()
    (folder / "work.token").write_text(TOKEN + "\n")
    (folder / "work.token").chmod(0o600)
    set_password(folder / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = folder / "bridge.toml"
    config.write_text(
        '[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n\n'
        "[sync]\ninterval = 3600\nfreshness = 3600\n\n"
        f'[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "{sandbox_url}"\n'
        f'token_file = "work.token"\n{store_toml(store)}',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def _owner_pid(postgres: PostgresServer) -> int | None:
    """The process whose store session holds the book's owner lock (there is one book)."""
    with postgres.admin() as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.classid = %s AND l.granted",
            (OWNER_KEY,),
        ).fetchone()
    if row is None:
        return None
    found = re.search(r"owner \S+ (\d+)$", str(row[0]))
    return int(found.group(1)) if found else None


def _watch(check: Callable[[], bool]) -> Callable[[], float]:
    """Poll ``check`` on a thread from now on; the returned call waits for it to hold and
    gives the monotonic time at which it was first seen holding."""
    seen: list[float] = []

    def poll() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if check():
                seen.append(time.monotonic())
                return
            time.sleep(0.01)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()

    def when() -> float:
        thread.join(65)
        assert seen, "not seen within 60 s"
        return seen[0]

    return when


@pytest.mark.slow
def test_an_idle_owner_that_dies_is_replaced_within_the_takeover_check(
    tmp_path: Path, live_sandbox: str, pg_store: StoreConfig, postgres: PostgresServer
) -> None:
    """No request comes after the owner dies: the survivor's own loop takes the book."""
    first, _ = start_serve(_instance(tmp_path / "a", live_sandbox, pg_store))
    second, _ = (None, None)
    try:
        eventually(lambda: _owner_pid(postgres) == first.pid, timeout=60, what="owner")
        second, _ = start_serve(_instance(tmp_path / "b", live_sandbox, pg_store))
        time.sleep(0.5)  # b has looked, and found the book taken
        assert _owner_pid(postgres) == first.pid
        os.kill(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        taken = _watch(lambda: _owner_pid(postgres) == second.pid)() - killed_at
        assert taken < EngineOptions().takeover_check + 3
        print(f"\nidle owner killed: taken over after {taken:.2f} s")
    finally:
        first.kill()
        first.communicate(timeout=30)
        if second is not None:
            assert "Traceback" not in stop_serve(second)


def _card(i: int, version: int) -> str:
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:uid-{i}\r\nFN:Card {i}\r\n"
        f"NOTE:v{version}\r\nEND:VCARD\r\n"
    )


def _sync(client: httpx.Client, token: str) -> tuple[str, set[str]]:
    answer = client.request(
        "REPORT",
        "alice/work/",
        content=SYNC.format(token=token),
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    assert answer.status_code == 207, answer.text
    tree = ET.fromstring(answer.content)
    hrefs = {h.text or "" for h in tree.iter("{DAV:}href")}
    new_token = tree.findtext("{DAV:}sync-token") or ""
    return new_token, {h.rsplit("/", 1)[-1] for h in hrefs if h.endswith(".vcf")}


@pytest.mark.slow
def test_two_instances_share_a_book_and_one_takes_over_when_the_owner_dies(
    tmp_path: Path,
    live_sandbox: str,
    sandbox_app: SandboxApp,
    pg_store: StoreConfig,
    postgres: PostgresServer,
) -> None:
    # b reaches Aurinko by another name: the sandbox tells whose requests are whose.
    first, url_a = start_serve(_instance(tmp_path / "a", live_sandbox, pg_store))
    eventually(lambda: _owner_pid(postgres) == first.pid, timeout=60, what="owner")
    as_b = live_sandbox.replace("127.0.0.1", "localhost")
    second, url_b = start_serve(_instance(tmp_path / "b", as_b, pg_store))
    auth = ("alice", "alice-pw")
    a = httpx.Client(base_url=url_a, auth=auth, timeout=30)
    b = httpx.Client(base_url=url_b, auth=auth, timeout=30)
    try:
        tokens = {"a": _sync(a, "")[0], "b": _sync(b, "")[0]}
        before = Counter(sandbox_app.handled())
        written: dict[int, int] = {}  # card -> the version last written
        killed_at = 0.0
        for n in range(WRITES):
            i, version = n % 40, n // 40 + 1  # 40 new cards, then 20 of them edited
            writer, reader = ("a", "b") if n % 2 == 0 else ("b", "a")
            if n == KILL_AFTER:
                # Until now only the owner (a) talked to Aurinko, b's writes included.
                assert sandbox_app.handled("localhost") == {}
                os.kill(first.pid, signal.SIGKILL)  # the owner, mid-burst
                killed_at = time.monotonic()
                taken = _watch(lambda: _owner_pid(postgres) == second.pid)
            if killed_at:
                writer, reader = "b", "b"  # the load balancer sends everything to b now
            client = a if writer == "a" else b
            put = client.put(f"alice/work/c{i}.vcf", content=_card(i, version))
            assert put.status_code in (201, 204), put.text
            written[i] = version
            # Read back through the other instance, at once: no instance-local state.
            tokens[reader], changed = _sync(a if reader == "a" else b, tokens[reader])
            assert f"c{i}.vcf" in changed
        takeover = taken() - killed_at

        def delivered() -> bool:
            upstream = sandbox_app.dump(TOKEN)
            notes = {c["name"]["displayName"]: c.get("notes") for c in upstream}
            return len(upstream) == len(written) and all(
                notes.get(f"Card {i}") == f"v{v}" for i, v in written.items()
            )

        eventually(delivered, timeout=90, what="every write upstream")
        caught_up = time.monotonic() - killed_at
        names = [c["name"]["displayName"] for c in sandbox_app.dump(TOKEN)]
        assert sorted(names) == sorted(f"Card {i}" for i in written)  # each exactly once
        sent = Counter(sandbox_app.handled()) - before
        assert sent["POST /v1/contacts"] == 40, sent  # each card created by one request
        assert sent["PATCH /v1/contacts/{id}"] <= 20, sent  # no edit sent twice
        # The token the client got from the dead instance works on the survivor.
        token, changed = _sync(b, tokens["a"])
        assert token and changed <= {f"c{i}.vcf" for i in written}
        print(f"\nowner killed mid-burst: b owns the book {takeover:.3f} s later,")
        print(f"every write upstream {caught_up:.2f} s after the kill")
    finally:
        a.close()
        b.close()
        if first.poll() is None:
            first.kill()
        first.communicate(timeout=30)
        err = stop_serve(second)
        assert "Traceback" not in err, err


def test_a_sync_beside_the_owner_asks_the_owner(
    tmp_path: Path,
    live_sandbox: str,
    sandbox_app: SandboxApp,
    pg_store: StoreConfig,
    postgres: PostgresServer,
) -> None:
    """``aurinko-bridge sync`` while an instance owns the book does not sync it behind the
    owner's back: it asks the owner, which pulls at once."""
    config = _instance(tmp_path / "a", live_sandbox, pg_store)
    serving, url = start_serve(config)
    try:
        eventually(lambda: _owner_pid(postgres) == serving.pid, timeout=60, what="owner")
        eventually(lambda: _listed(url) == set(), timeout=60, what="first pull")
        remote = httpx.Client(base_url=live_sandbox, headers={"Authorization": f"Bearer {TOKEN}"})
        remote.post("/contacts", json={"name": {"displayName": "Made Upstream"}}).raise_for_status()
        done = subprocess.run(
            [*BRIDGE, "sync", "--config", str(config)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "synced by another bridge instance; asked it to sync now" in done.stdout
        eventually(lambda: len(_listed(url)) == 1, timeout=30, what="the owner's pull")
        assert _owner_pid(postgres) == serving.pid
    finally:
        err = stop_serve(serving)
    assert "Traceback" not in err, err


def _listed(url: str) -> set[str]:
    with httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30) as client:
        return _sync(client, "")[1]
