"""Aurinko down, black-holed, then back: CardDAV requests never wait on it beyond a short
bound, the account is backed off instead of being called per request, local books never
wait at all, and every write queued meanwhile reaches Aurinko once it is back.

``serve`` runs as a real process; between it and the sandbox sits a TCP proxy that the test
switches between forwarding, refusing (accept and reset) and black-holing (accept, never
answer)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.htpasswd import set_password
from bridge.sandbox import SandboxApp
from tests.cli.serving import serving
from tests.conftest import TOKEN
from tests.wait import eventually

REQUEST_WAIT = 1.0
CLIENT_TIMEOUT = 8.0  # the bridge used to hold requests 6-30 s while Aurinko was away


class Proxy:
    """127.0.0.1:<port> -> the sandbox; or nothing listening there (connections refused);
    or a black hole (connections accepted, never answered). Switching cuts every open
    connection, so kept-alive ones cannot carry on as before."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self.accepted = 0  # connections the bridge opened into the black hole
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()

    def _listen(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        for sock in self._open:
            _close(sock)
        self._open.clear()
        if mode == "refuse" and self._listener is not None:
            _close(self._listener)
            self._listener = None
        elif mode != "refuse" and self._listener is None:
            self._listen()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self._open.append(conn)
            if self.mode == "forward":
                threading.Thread(target=self._forward, args=(conn,), daemon=True).start()
            else:
                self.accepted += 1  # held: never read, never answered

    def _forward(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            _close(client)
            return
        self._open.append(server)
        for src, dst in ((client, server), (server, client)):
            threading.Thread(target=_pump, args=(src, dst), daemon=True).start()

    def close(self) -> None:
        self.set_mode("refuse")


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class Served:
    url: str
    proxy: Proxy
    sandbox: SandboxApp

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=("alice", "alice-pw"), timeout=CLIENT_TIMEOUT)


@contextmanager
def _served(
    sandbox: SandboxApp, sandbox_url: str, folder: Path, request_wait: float
) -> Iterator[Served]:
    upstream = httpx.URL(sandbox_url)
    proxy = Proxy((upstream.host, upstream.port or 80))
    (folder / "work.token").write_text(TOKEN)
    (folder / "work.token").chmod(0o600)
    set_password(folder / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = folder / "bridge.toml"
    config.write_text(
        '[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n\n'
        f"[sync]\nfreshness = 0\ninterval = 3600\nrequest_wait = {request_wait}\n\n"
        '[[accounts]]\nname = "work"\nuser = "alice"\n'
        f'base_url = "http://127.0.0.1:{proxy.port}{upstream.path}"\ntoken_file = "work.token"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    try:
        with serving(config) as url:
            yield Served(url, proxy, sandbox)
    finally:
        proxy.close()


@pytest.fixture
def served(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Iterator[Served]:
    with _served(sandbox_app, live_sandbox, tmp_path, REQUEST_WAIT) as running:
        yield running


def card(uid: str) -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{uid}\r\nEND:VCARD\r\n"


def _use_books(client: httpx.Client, n: int, prefix: str) -> None:
    """What a client does meanwhile: writes, reads and listings, on both kinds of book."""
    for i in range(n):
        put = client.put(f"/alice/work/{prefix}{i}.vcf", content=card(f"{prefix}{i}"))
        assert put.status_code == 201, put.text
        assert client.get(f"/alice/work/{prefix}{i}.vcf").status_code == 200
        listing = client.request("PROPFIND", "/alice/work/", headers={"Depth": "1"})
        assert listing.status_code == 207
        local = client.put(f"/alice/local/{prefix}{i}.vcf", content=card(f"local-{prefix}{i}"))
        assert local.status_code == 201
        assert client.get(f"/alice/local/{prefix}{i}.vcf").status_code == 200


@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
def test_requests_do_not_wait_on_an_absent_aurinko(served: Served, mode: str) -> None:
    with served.client() as client:
        mkcol = client.request(
            "MKCOL",
            "/alice/local/",
            content=(
                '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:'
                'carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/>'
                "</D:resourcetype></D:prop></D:set></D:mkcol>"
            ),
        )
        assert mkcol.status_code == 201
        served.proxy.set_mode(mode)
        _use_books(client, 8, "down")  # each request inside CLIENT_TIMEOUT, or httpx raises
        # A black hole is found out once per account, not by every request (8 PUTs and
        # 16 reads with freshness 0 would otherwise each have tried).
        assert served.proxy.accepted <= 2, served.proxy.accepted
        served.proxy.set_mode("forward")
        _use_books(client, 2, "back")

    def all_arrived() -> bool:
        names = {c["name"]["displayName"] for c in served.sandbox.dump(TOKEN)}
        return names == {f"down{i}" for i in range(8)} | {"back0", "back1"}

    eventually(all_arrived, timeout=90, what="the writes queued during the outage")


# The bound the issue sets (point 8): each request answers within request_wait plus a
# margin. The margin is below request_wait, so a request that waits for a pull twice (as a
# PROPFIND Depth 1 did: 4.0 s with request_wait 2) overshoots it. Whether it did depended
# on thread scheduling; tests/plugin/test_read_wait.py shows the cause without a clock.
BOUND_WAIT = 3.0
MARGIN = 2.5
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}'
    "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
    "</D:sync-collection>"
)
MULTIGET = (
    '<?xml version="1.0"?><CR:addressbook-multiget xmlns:D="DAV:"'
    ' xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><CR:address-data/>'
    "</D:prop><D:href>/alice/work/kept.vcf</D:href></CR:addressbook-multiget>"
)


@pytest.fixture
def served_waiting(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Iterator[Served]:
    with _served(sandbox_app, live_sandbox, tmp_path, BOUND_WAIT) as running:
        yield running


def _timed(
    client: httpx.Client, what: str, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    started = time.monotonic()
    answer = client.request(method, path, **kwargs)
    took = time.monotonic() - started
    assert took < BOUND_WAIT + MARGIN, f"{what} took {took:.1f} s (request_wait {BOUND_WAIT} s)"
    return answer


def _sync_token(answer: httpx.Response) -> str:
    found = re.search(r"<[^>]*sync-token>([^<]+)<", answer.text)
    assert found is not None, answer.text
    return found.group(1)


def _round(client: httpx.Client, token: str, n: int) -> str:
    """Every kind of request on the Aurinko-backed book, each within the bound; the next
    sync token."""
    listing = _timed(client, "PROPFIND Depth 1", "PROPFIND", "/alice/work/", headers={"Depth": "1"})
    assert listing.status_code == 207 and "kept.vcf" in listing.text, listing.text
    got = _timed(client, "GET", "GET", "/alice/work/kept.vcf")
    assert got.status_code == 200 and "UID:kept" in got.text
    put = _timed(client, "PUT", "PUT", f"/alice/work/new{n}.vcf", content=card(f"new{n}"))
    assert put.status_code == 201, put.text
    synced = _timed(
        client,
        "sync-collection",
        "REPORT",
        "/alice/work/",
        content=SYNC.format(token=token),
        headers={"Depth": "1"},
    )
    assert synced.status_code == 207 and f"new{n}.vcf" in synced.text, synced.text
    multiget = _timed(
        client, "multiget", "REPORT", "/alice/work/", content=MULTIGET, headers={"Depth": "1"}
    )
    assert multiget.status_code == 207 and "UID:kept" in multiget.text, multiget.text
    deleted = _timed(client, "DELETE", "DELETE", f"/alice/work/new{n}.vcf")
    assert deleted.status_code in (200, 204), deleted.text
    home = _timed(
        client, "PROPFIND Depth 0 on the home", "PROPFIND", "/alice/", headers={"Depth": "0"}
    )
    assert home.status_code == 207, home.text
    return _sync_token(synced)


@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
def test_each_request_answers_within_request_wait(served_waiting: Served, mode: str) -> None:
    with served_waiting.client() as client:
        assert client.put("/alice/work/kept.vcf", content=card("kept")).status_code == 201
        first = client.request(
            "PROPFIND",
            "/alice/work/",
            headers={"Depth": "0"},
            content='<?xml version="1.0"?><D:propfind xmlns:D="DAV:">'
            "<D:prop><D:sync-token/></D:prop></D:propfind>",
        )
        token = _sync_token(first)
        served_waiting.proxy.set_mode(mode)
        for n in range(3):  # the first pull into the outage, then the account backed off
            token = _round(client, token, n)
