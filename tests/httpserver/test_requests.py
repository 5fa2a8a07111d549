"""The HTTP server's reading of a request head and writing of a WSGI answer, over a real
loopback socket: what an application sees in its environ and what a client reads back."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bridge.httpserver import RequestHandler, ThreadingServer


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("the application failed")
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one ", b"two"])  # type: ignore[return-value]
    shown = {k: v for k, v in environ.items() if isinstance(v, str)}
    body = json.dumps(shown).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    server = ThreadingServer(("127.0.0.1", 0), RequestHandler)
    server.set_app(_app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ("127.0.0.1", server.server_port)
    server.shutdown()
    server.server_close()


def _exchange(address: tuple[str, int], request: bytes) -> tuple[str, dict[str, str], bytes]:
    """The status line, header fields and body of the one answer to ``request``."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request)
        reader = sock.makefile("rb")
        status = reader.readline().decode().rstrip()
        fields: dict[str, str] = {}
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            fields[name.lower()] = value.strip()
        length = fields.get("content-length")
        body = reader.read(int(length)) if length is not None else reader.read()
    return status, fields, body


def test_the_environ_carries_the_request_as_pep_3333_describes(address: tuple[str, int]) -> None:
    status, fields, body = _exchange(
        address,
        b"PROPFIND /alice/caf%C3%A9/?x=1 HTTP/1.1\r\nHost: h\r\nDepth: 1\r\n"
        b"X-Dup: a\r\nX-Dup: b\r\nX-Folded: first\r\n  second\r\nConnection: close\r\n\r\n",
    )
    environ = json.loads(body)
    assert status == "HTTP/1.1 200 OK"
    assert environ["REQUEST_METHOD"] == "PROPFIND"
    assert environ["PATH_INFO"] == "/alice/caf\u00c3\u00a9/"  # latin-1, as PEP 3333 has it
    assert environ["QUERY_STRING"] == "x=1"
    assert environ["HTTP_DEPTH"] == "1"
    assert environ["HTTP_X_DUP"] == "a,b"
    assert environ["HTTP_X_FOLDED"] == "first second"
    assert environ["CONTENT_TYPE"] == "text/plain" and environ["CONTENT_LENGTH"] == ""
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert "PATH" not in environ and "HOME" not in environ  # no copy of the process's own
    assert fields["content-length"] == str(len(body))
    assert fields["connection"] == "close" and "date" in fields


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nBad name : x\r\n\r\n", "400"),
        (b"GET / HTTP/2.0\r\n\r\n", "505"),
        (b"GET / HTTP/x\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n", "431"),
        (b"GET / HTTP/1.1\r\nX-Long: " + b"y" * 70000 + b"\r\n\r\n", "431"),
    ],
    ids=["no-colon", "blank-before-colon", "http2", "bad-version", "101-fields", "long-line"],
)
def test_a_malformed_head_is_refused_with_its_status(
    address: tuple[str, int], request_bytes: bytes, status: str
) -> None:
    line, fields, _ = _exchange(address, request_bytes)
    assert line.split()[1] == status, line
    assert fields.get("connection") == "close"


def test_a_connection_serves_requests_until_the_client_closes(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        reader = sock.makefile("rb")
        paths = []
        for _ in range(2):
            assert reader.readline().startswith(b"HTTP/1.1 200")
            length = 0
            while (line := reader.readline()) != b"\r\n":
                assert not line.lower().startswith(b"connection: close")
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            paths.append(json.loads(reader.read(length))["PATH_INFO"])
    assert paths == ["/a", "/b"]


def test_http_1_0_closes_unless_asked_to_keep_alive(address: tuple[str, int]) -> None:
    _, fields, _ = _exchange(address, b"GET / HTTP/1.0\r\n\r\n")
    assert fields["connection"] == "close"


def test_a_streamed_answer_ends_with_the_connection(address: tuple[str, int]) -> None:
    status, fields, body = _exchange(address, b"GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status == "HTTP/1.1 200 OK"
    assert "content-length" not in fields and fields["connection"] == "close"
    assert body == b"one two"


def test_an_application_error_is_a_500_and_is_logged(
    address: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    status, fields, body = _exchange(address, b"GET /fail HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status == "HTTP/1.1 500 Internal Server Error"
    assert fields["connection"] == "close" and b"server error" in body
    assert any("the application failed" in r.getMessage() or r.exc_info for r in caplog.records)
