"""What the HTTP front end refuses to spend on a client (issue 11), over real loopback sockets.

No request body is read (or invited with ``100 Continue``) before its request is
authenticated and known to fit; a body cut short is refused; a connection cannot be held by
a request trickled a byte at a time, and slow connections cannot keep others out.
"""

from __future__ import annotations

import base64
import http.client
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bridge.httpserver import ServerLimits
from radicale_plugin import runtime
from tests.plugin.conftest import Server, card
from tests.running_server import RunningServer

MIB = 1024 * 1024
ALICE = "Basic " + base64.b64encode(b"alice:alice-pw").decode()
WRONG = "Basic " + base64.b64encode(b"alice:wrong").decode()
Address = tuple[str, int]


def _address(url: str) -> Address:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 0


def _connect(address: Address, timeout: float = 10) -> socket.socket:
    return socket.create_connection(address, timeout=timeout)


def _head(
    method: str, path: str, length: int, authorization: str | None = None, expect: bool = False
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x", f"Content-Length: {length}"]
    lines += ["Content-Type: text/vcard"] if method == "PUT" else ["Depth: 1"]
    lines += [f"Authorization: {authorization}"] if authorization else []
    lines += ["Expect: 100-continue"] if expect else []
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The next response head (status line and headers), and what has arrived after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed without an answer, after {data!r}"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def _read_to_close(sock: socket.socket, data: bytes = b"") -> bytes:
    """Everything until the server closes; fails (timeout) if it keeps the connection open."""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed (or reset) this connection, without waiting."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    try:
        return sock.recv(65536) == b""
    except OSError:
        return True


@contextmanager
def _limited(server: Server, tmp_path: Path, limits: ServerLimits) -> Iterator[Address]:
    """A second server over the same engine, with the given connection limits."""
    config = runtime.bridge_for(f"test:{tmp_path}").config
    with RunningServer(config, server.engine, f"limited:{tmp_path}", limits=limits) as running:
        yield _address(running.url)


# Bodies before authentication (point 6) ---------------------------------------------------


@pytest.mark.parametrize("authorization", [None, WRONG], ids=["anonymous", "wrong-password"])
@pytest.mark.parametrize(
    ("method", "path", "length"),
    [("PUT", "/alice/work/big.vcf", 9 * MIB), ("PROPFIND", "/alice/work/", 90 * MIB)],
)
def test_an_unauthenticated_body_is_neither_invited_nor_waited_for(
    server: Server, authorization: str | None, method: str, path: str, length: int
) -> None:
    """Only the headers are sent, the body never: the 401 still comes, and no 100 before it."""
    with _connect(_address(server.url)) as sock:
        sock.sendall(_head(method, path, length, authorization, expect=True))
        status, rest = _read_head(sock)
        assert status.startswith(b"HTTP/1.1 401"), status  # not "100 Continue"
        assert b"connection: close" in status.lower()
        _read_to_close(sock, rest)  # closed, not waiting for a body nobody asked for
    assert server.alice.get(f"{server.book_url}big.vcf").status_code == 404


def test_an_unauthenticated_body_sent_unasked_is_not_read(server: Server) -> None:
    """Without Expect, a client sends its body at once; the server answers without reading
    the 90 MiB it announced (before, it waited for all of them, then 401)."""
    with _connect(_address(server.url)) as sock:
        head = _head("PROPFIND", "/alice/work/", 90 * MIB)
        sock.sendall(head + b"<" * (256 * 1024))
        status, rest = _read_head(sock)
        assert status.startswith(b"HTTP/1.1 401"), status
        _read_to_close(sock, rest)


def test_a_small_unauthenticated_body_keeps_the_connection(server: Server) -> None:
    """The usual 401 round trip: a small body is skipped and the connection serves on."""
    host, port = _address(server.url)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    body = card("uid-s", "Small").encode()
    conn.request("PUT", "/alice/work/s.vcf", body=body, headers={"Content-Type": "text/vcard"})
    response = conn.getresponse()
    response.read()
    assert response.status == 401 and not response.will_close
    sock = conn.sock
    headers = {"Content-Type": "text/vcard", "Authorization": ALICE}
    conn.request("PUT", "/alice/work/s.vcf", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 201 and conn.sock is sock
    conn.close()


# Truncated bodies (point 9) ---------------------------------------------------------------


def test_a_put_cut_short_is_refused_and_not_stored(server: Server) -> None:
    body = card("uid-t", "Truncated").encode()
    with _connect(_address(server.url)) as sock:
        sock.sendall(_head("PUT", "/alice/work/t.vcf", len(body) + 40, ALICE) + body)
        sock.shutdown(socket.SHUT_WR)  # the client gives up before the announced end
        answer = _read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"ended after" in answer
    assert server.alice.get(f"{server.book_url}t.vcf").status_code == 404
    listing = server.alice.request("PROPFIND", server.book_url, headers={"Depth": "1"})
    assert b"t.vcf" not in listing.content


# Oversized bodies (point 10) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "length"),
    [("PUT", "/alice/work/big.vcf", 50_000_000), ("REPORT", "/alice/work/", 101 * MIB)],
)
def test_an_oversized_body_is_refused_before_it_is_invited(
    server: Server, method: str, path: str, length: int
) -> None:
    with _connect(_address(server.url)) as sock:
        sock.sendall(_head(method, path, length, ALICE, expect=True))
        status, rest = _read_head(sock)
        assert status.startswith(b"HTTP/1.1 413"), status  # not "100 Continue"
        assert b"at most" in _read_to_close(sock, rest)  # the reason; then closed


def test_an_oversized_card_sent_unasked_is_refused_unread(server: Server) -> None:
    """Before, the 50 MB were read, and parsed for seconds of CPU, before a 412."""
    with _connect(_address(server.url)) as sock:
        sock.sendall(_head("PUT", "/alice/work/big.vcf", 50_000_000, ALICE) + b"x" * 65536)
        status, rest = _read_head(sock)
        assert status.startswith(b"HTTP/1.1 413"), status
        assert b"at most 10485760" in _read_to_close(sock, rest)


# Connections and deadlines (point 7) ------------------------------------------------------


def test_a_request_trickled_byte_by_byte_is_cut_off_at_its_deadline(
    server: Server, tmp_path: Path
) -> None:
    """Each byte arrives well within any per-read timeout; the whole request does not."""
    with (
        _limited(server, tmp_path, ServerLimits(request_timeout=2)) as address,
        _connect(address) as sock,
    ):
        sock.sendall(b"PROPFIND /alice/work/ HTTP/1.1\r\n")
        started = time.monotonic()
        cut_off = False
        while not cut_off and time.monotonic() - started < 15:
            try:
                sock.sendall(b"X")
            except OSError:
                cut_off = True
            time.sleep(0.2)
            cut_off = cut_off or _closed_by_server(sock)
        assert cut_off and time.monotonic() - started < 10  # before, it was never cut off


def test_a_body_trickled_past_the_deadline_is_refused(server: Server, tmp_path: Path) -> None:
    """The deadline covers the body too: a card sent a byte every 0.2 s gets a 408 and is
    not stored (before, it was stored after a minute of trickling)."""
    body = card("uid-slow", "Slow").encode()
    with (
        _limited(server, tmp_path, ServerLimits(request_timeout=2)) as address,
        _connect(address) as sock,
    ):
        sock.sendall(_head("PUT", "/alice/work/slow.vcf", len(body), ALICE))
        for byte in body:
            if select.select([sock], [], [], 0.2)[0]:
                break  # answered
            sock.sendall(bytes([byte]))
        answer = _read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in answer.lower()
    assert server.alice.get(f"{server.book_url}slow.vcf").status_code == 404


def test_an_idle_connection_is_closed(server: Server, tmp_path: Path) -> None:
    with (
        _limited(server, tmp_path, ServerLimits(idle_timeout=1)) as address,
        _connect(address) as sock,
    ):
        assert _read_to_close(sock) == b""  # within the socket's 10 s; before, after 60 s


def test_slow_connections_make_way_for_normal_clients(server: Server, tmp_path: Path) -> None:
    """300 slowloris connections against a cap of 50: the oldest waiting ones are closed to
    let newcomers in, and a normal client is served as usual."""
    assert server.alice.put(f"{server.book_url}n.vcf", content=card("uid-n", "N")).is_success
    with ExitStack() as stack:
        address = stack.enter_context(_limited(server, tmp_path, ServerLimits(max_connections=50)))
        slow = [stack.enter_context(_connect(address)) for _ in range(300)]
        for byte in (b"PROPFIND /alice/work/ HTTP/1.1\r\n", b"Host: x\r\n", b"X", b"-"):
            for sock in slow:
                try:
                    sock.send(byte)
                except OSError:
                    pass  # made way already
            time.sleep(0.2)

        client = stack.enter_context(
            httpx.Client(base_url=f"http://{address[0]}:{address[1]}", auth=("alice", "alice-pw"))
        )
        for _ in range(3):
            assert client.get("/alice/work/n.vcf", timeout=10).status_code == 200
            listing = client.request("PROPFIND", "/alice/work/", headers={"Depth": "1"})
            assert listing.status_code == 207 and b"n.vcf" in listing.content

        deadline = time.monotonic() + 10
        while (still := sum(not _closed_by_server(s) for s in slow)) > 50:
            assert time.monotonic() < deadline, f"{still} slow connections still open"
            time.sleep(0.2)


def test_requests_being_served_are_never_cut_off(server: Server, tmp_path: Path) -> None:
    """At the cap with every connection's request in the application, a newcomer is turned
    away (503) rather than one of them closed."""
    cards = {name: card(f"uid-{name}", name).encode() for name in ("p", "q")}
    with ExitStack() as stack:
        address = stack.enter_context(_limited(server, tmp_path, ServerLimits(max_connections=2)))
        putting = {}
        for name, body in cards.items():
            sock = putting[name] = stack.enter_context(_connect(address))
            sock.sendall(_head("PUT", f"/alice/work/{name}.vcf", len(body), ALICE, expect=True))
            status, _ = _read_head(sock)
            assert status.startswith(b"HTTP/1.1 100"), status  # the application reads its body

        for _ in range(3):
            with _connect(address) as newcomer:
                assert _read_to_close(newcomer).startswith(b"HTTP/1.1 503")

        for name, sock in putting.items():
            sock.sendall(cards[name])
            status, _ = _read_head(sock)
            assert status.startswith(b"HTTP/1.1 201"), status


_OUT_OF_FILES_SERVER = """
import resource, sys, time
from bridge.httpserver import RequestHandler, ThreadingServer

def app(environ, start_response):
    time.sleep(float(environ.get("QUERY_STRING") or 0))
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]

server = ThreadingServer(("127.0.0.1", 0), RequestHandler)
server.set_app(app)
resource.setrlimit(resource.RLIMIT_NOFILE, (40, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
print(server.server_port, flush=True)
server.serve_forever()
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc for CPU time")
def test_running_out_of_file_descriptors_does_not_spin() -> None:
    """With every descriptor taken by a request being served and more connections waiting
    in the listen queue, accept() fails with EMFILE while the listening socket stays
    readable: the server must pause rather than retry at full speed."""
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-c", _OUT_OF_FILES_SERVER]
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE) as process:
        try:
            assert process.stdout is not None
            address = ("127.0.0.1", int(process.stdout.readline()))
            with ExitStack() as stack:
                for _ in range(60):  # more than the 40 descriptors the server may open
                    sock = stack.enter_context(_connect(address))
                    sock.sendall(b"GET /?8 HTTP/1.1\r\nHost: x\r\n\r\n")  # held 8 s
                time.sleep(1.5)
                before = _cpu_seconds(process.pid)
                time.sleep(2)
                spent = _cpu_seconds(process.pid) - before
            assert spent < 0.5, f"{spent:.2f} s of CPU in 2 s while out of descriptors"
        finally:
            process.kill()
