"""wsgiref's server, keeping HTTP/1.1 connections open between requests.

wsgiref answers one request per connection. Clients send bursts of small requests (a CardDAV
sync is a REPORT and then multigets, GETs and PUTs; the engine's pushes are PATCH after
PATCH), and a new TCP connection and thread per request costs more than serving a GET. Here
a connection serves requests until the client closes it, idles past ``IDLE_TIMEOUT``, sends
``Connection: close``, or gets an answer whose end only the connection's close can mark.
Both the CardDAV server and the sandbox run on it; it knows nothing of either.
"""

from __future__ import annotations

import io
import logging
import socketserver
from collections.abc import Iterator
from typing import IO, Any, cast
from wsgiref.headers import Headers
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 60.0  # seconds a kept-open connection may wait for its next request
DRAIN_LIMIT = 1024 * 1024  # unread request bytes skipped to reuse a connection, at most


class _Body:
    """The request body as ``wsgi.input``: reads stop at its Content-Length, so the next
    request on the connection is never read as this one's body."""

    def __init__(self, stream: io.BufferedIOBase, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self.remaining:
            size = self.remaining
        data = self._stream.read(size) if size else b""
        self.remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        if size < 0 or size > self.remaining:
            size = self.remaining
        data = self._stream.readline(size) if size else b""
        self.remaining -= len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def drain(self) -> bool:
        """Skip what the application left unread; False if too much is left to bother."""
        if self.remaining > DRAIN_LIMIT:
            return False
        while self.remaining:
            if not self.read(min(self.remaining, 65536)):
                return False
        return True


class ResponseHandler(ServerHandler):
    """Writes one response; decides whether the connection may serve another."""

    http_version = "1.1"
    headers: Headers | None

    def __init__(self, request: RequestHandler, body: _Body) -> None:
        stdout = cast(IO[bytes], request.wfile)
        super().__init__(body, stdout, request.get_stderr(), request.get_environ())
        self.request_handler = request

    answered = False  # wsgiref's own headers_sent is reset when the handler closes

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        self.answered = True

        assert self.headers is not None
        if "Content-Length" not in self.headers:  # a streamed answer: its end is the close
            self.request_handler.close_connection = True
        if self.request_handler.close_connection:
            self.headers["Connection"] = "close"

    def handle_error(self) -> None:
        self.request_handler.close_connection = True  # the answer may be cut short
        super().handle_error()


class RequestHandler(WSGIRequestHandler):
    """Serves a connection's requests one after another."""

    protocol_version = "HTTP/1.1"
    response_handler: type[ResponseHandler] = ResponseHandler
    timeout = IDLE_TIMEOUT
    wbufsize = 64 * 1024  # status line, headers and body leave in one write, not five
    disable_nagle_algorithm = True

    def handle(self) -> None:
        self.close_connection = True
        self._handle_one()
        while not self.close_connection:
            self._handle_one()

    def _handle_one(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except TimeoutError:
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():  # it has answered with an error and will close
            return
        body = _Body(self.rfile, self._content_length())
        handler = self.response_handler(self, body)
        app = cast(WSGIServer, self.server).get_app()
        assert app is not None
        handler.run(app)
        if not handler.answered:  # no answer went out (an aborted or dropped request)
            self.close_connection = True
        self.wfile.flush()

        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not body.drain():
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)  # not to stderr

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue``: the interim answer must leave now, not with the final one."""
        super().handle_expect_100()
        self.wfile.flush()
        return True

    def _content_length(self) -> int:

        try:
            return max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self.close_connection = True  # where this body ends is anyone's guess
            return 0


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # with the default 5, a burst of clients waits 1 s to connect
