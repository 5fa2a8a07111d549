"""The HTTP front end: persistent connections, and what ends them."""

from __future__ import annotations

import base64
import http.client
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.plugin.conftest import Server, card

AUTH = {"Authorization": "Basic " + base64.b64encode(b"alice:alice-pw").decode()}


@pytest.fixture
def connection(server: Server) -> Iterator[http.client.HTTPConnection]:
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    yield conn
    conn.close()


def _ask(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, body=body, headers={**AUTH, **headers})
    response = conn.getresponse()
    return response, response.read()


def test_one_connection_serves_many_requests(
    server: Server, connection: http.client.HTTPConnection
) -> None:
    response, _ = _ask(connection, "PUT", "/alice/work/a.vcf", card("uid-a", "Ann").encode())
    assert response.status == 201 and response.version == 11
    sock = connection.sock
    for _ in range(3):
        response, body = _ask(connection, "GET", "/alice/work/a.vcf")
        assert response.status == 200 and b"FN:Ann" in body
    response, _ = _ask(connection, "DELETE", "/alice/work/a.vcf")
    assert response.status in (200, 204)
    assert connection.sock is sock  # never reconnected


def test_an_unread_body_does_not_leak_into_the_next_request(
    server: Server, connection: http.client.HTTPConnection
) -> None:
    body = b"<?xml version='1.0'?>" + b"<!-- padding -->" * 1000
    connection.request("PROPPATCH", "/alice/work/", body=body)  # no credentials: 401 unread
    response = connection.getresponse()
    response.read()
    assert response.status == 401
    response, _ = _ask(connection, "OPTIONS", "/alice/work/")
    assert response.status == 200


def test_a_streamed_listing_closes_its_connection(
    server: Server, connection: http.client.HTTPConnection
) -> None:
    _ask(connection, "PUT", "/alice/work/a.vcf", card("uid-a", "Ann").encode())
    propfind = b'<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'
    response, body = _ask(connection, "PROPFIND", "/alice/work/", propfind, Depth="1")
    assert response.status == 207 and b"a.vcf" in body
    assert response.getheader("Connection") == "close" and response.will_close
    response, _ = _ask(connection, "GET", "/alice/work/a.vcf")  # on a new connection
    assert response.status == 200


def test_client_asking_to_close_is_answered_and_closed(
    server: Server, connection: http.client.HTTPConnection
) -> None:
    response, _ = _ask(connection, "OPTIONS", "/alice/", Connection="close")
    assert response.status == 200 and response.will_close


def test_expect_100_continue_is_answered_before_the_body(server: Server) -> None:
    url = urlsplit(server.url)
    body = card("uid-e", "Expecting").encode()
    head = (
        f"PUT /alice/work/e.vcf HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH['Authorization']}\r\n"
        f"Content-Type: text/vcard\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection((url.hostname or "", url.port or 0), timeout=5) as sock:
        sock.sendall(head.encode())
        interim = b""
        while b"\r\n\r\n" not in interim:  # before any byte of the body
            interim += sock.recv(64)
        assert interim.startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        reply = interim.split(b"\r\n\r\n", 1)[1]
        while b"\r\n" not in reply:
            reply += sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 201")
