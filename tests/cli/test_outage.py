"""Aurinko down, black-holed, then back: CardDAV requests never wait on it beyond a short
bound, the account is backed off instead of being called per request, local books never
wait at all, and every write queued meanwhile reaches Aurinko once it is back.

``serve`` runs as a real process; between it and the sandbox sits a TCP proxy that the test
switches between forwarding, refusing (accept and reset) and black-holing (accept, never
answer)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bridge.htpasswd import set_password
from bridge.sandbox import SandboxApp
from tests.cli.serving import serving
from tests.conftest import TOKEN
from tests.folder.conftest import eventually

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


@pytest.fixture
def served(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Iterator[Served]:
    upstream = httpx.URL(live_sandbox)
    proxy = Proxy((upstream.host, upstream.port or 80))
    (tmp_path / "work.token").write_text(TOKEN)
    (tmp_path / "work.token").chmod(0o600)
    set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    config = tmp_path / "bridge.toml"
    config.write_text(
        '[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n\n'
        f"[sync]\nfreshness = 0\ninterval = 3600\nrequest_wait = {REQUEST_WAIT}\n\n"
        '[[accounts]]\nname = "work"\nuser = "alice"\n'
        f'base_url = "http://127.0.0.1:{proxy.port}{upstream.path}"\ntoken_file = "work.token"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    try:
        with serving(config) as url:
            yield Served(url, proxy, sandbox_app)
    finally:
        proxy.close()


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
