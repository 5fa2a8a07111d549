"""Connections: a thread each, kept open between requests, within limits (issue 11)."""

from __future__ import annotations

import errno
import io
import logging
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import unquote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .body import DRAIN_LIMIT, DeadlineReader, RequestBody
from .head import BadHead, RequestHeaders, parse_request_line, read_headers
from .response import ResponseHandler

log = logging.getLogger("bridge.httpserver")

IDLE_TIMEOUT = 60.0  # seconds a connection may wait for a request's first byte
REQUEST_TIMEOUT = 60.0  # seconds from a request's first byte to its body's last
MAX_CONNECTIONS = 200  # well under the usual limit of 1,024 open files
LINGER = 2.0  # seconds, at most, spent discarding an unread body before closing
ACCEPT_BACKOFF = 0.05  # seconds to pause when accept() finds no file descriptor free
_OUT_OF_FILES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\n"
)


@dataclass(frozen=True)
class ServerLimits:
    """What one server spends on its clients: open connections, and seconds of waiting."""

    max_connections: int = MAX_CONNECTIONS
    idle_timeout: float = IDLE_TIMEOUT
    request_timeout: float = REQUEST_TIMEOUT


class RequestHandler(WSGIRequestHandler):
    """Serves a connection's requests one after another.

    ``http.server`` still writes the interim and error answers; the head is read by
    ``head`` and the application's answer written by ``ResponseHandler``."""

    protocol_version = "HTTP/1.1"
    response_handler: type[ResponseHandler] = ResponseHandler
    timeout = IDLE_TIMEOUT  # for writes; reads are bounded by the request's deadline
    wbufsize = 64 * 1024  # an answer leaves in one write, or in writes of this size
    disable_nagle_algorithm = True
    headers: RequestHeaders  # type: ignore[assignment]

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the plain socket file, replaced by one that keeps the deadline
        self._reader = DeadlineReader(self.connection, self.timeout)
        self._input = io.BufferedReader(self._reader, 64 * 1024)
        self.rfile = self._input
        self._tracker = self.server if isinstance(self.server, ThreadingServer) else None
        self._limits = self._tracker.limits if self._tracker else ServerLimits()
        self._unread = False  # a request body left unread: close gently (see _linger)

    def handle(self) -> None:
        self.close_connection = True
        self._handle_one()
        while not self.close_connection:
            self._handle_one()
        if self._unread:
            self._linger()

    def _handle_one(self) -> None:
        self._expecting = False
        if self._tracker:
            self._tracker.waiting(self.connection)
        try:
            if not self._read_head():
                self.close_connection = True
                return
        except OSError:  # out of time, or the client has gone, or was made to go
            self.close_connection = True
            return
        if self._tracker and not self._tracker.serving(self.connection):
            self.close_connection = True  # it made way for a newer connection just now
            return
        length = self._content_length()
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = self._unread = True  # a body this server does not read
        body = RequestBody(self.rfile, length, self._send_continue if self._expecting else None)
        handler = self.response_handler(self, body)
        app = cast(WSGIServer, self.server).get_app()
        assert app is not None
        handler.run(app)
        if not handler.answered:  # no answer went out (an aborted or dropped request)
            self.close_connection = True
        self.wfile.flush()

        if not body.drain():
            self.close_connection = self._unread = True

    def _read_head(self) -> bool:
        """The request line and headers, parsed; False if there is no request to serve."""
        self._reader.deadline = time.monotonic() + self._limits.idle_timeout
        if not self._input.peek(1):
            return False
        self._reader.deadline = time.monotonic() + self._limits.request_timeout
        self.command = None  # type: ignore[assignment]  # as http.server has it, for errors
        self.request_version = "HTTP/1.1"  # a refusal gets a status line, whatever came
        self.raw_requestline = self.rfile.readline(65537)
        self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return False
        try:
            line = parse_request_line(self.raw_requestline)
            if line is None:
                return False
            self.command, self.path, self.request_version = line.method, line.target, line.version
            self.headers = read_headers(self.rfile)
        except BadHead as refused:
            self.send_error(refused.status, refused.reason)
            return False
        self._connection_fate(line.persistent)
        return True

    def _connection_fate(self, persistent: bool) -> None:
        """Whether the connection outlives this request (RFC 9112 9.3), and the
        ``100 Continue`` a client may wait for."""
        connection = self.headers.get("Connection", "").lower()
        self.close_connection = not persistent
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.request_version != "HTTP/0.9":
            self.close_connection = False
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and self.request_version >= "HTTP/1.1":
            self._expecting = True

    def wsgi_environ(self, body: RequestBody) -> dict[str, Any]:
        """The request as PEP 3333 describes it (what ``wsgiref`` gives an application,
        without a copy of this process's environment)."""
        server = cast(WSGIServer, self.server)
        environ: dict[str, Any] = dict(server.base_environ)
        path, _, query = self.path.partition("?")
        environ.update({
            "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": self.server_version,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path, "iso-8859-1"),
            "QUERY_STRING": query,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", "text/plain"),
            "CONTENT_LENGTH": self.headers.get("Content-Length") or "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        })  # fmt: skip
        for name, value in self.headers.items():
            key = name.replace("-", "_").upper()
            if key in environ:
                continue  # CONTENT_TYPE and CONTENT_LENGTH, or a name trying to pass as one
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _send_continue(self) -> None:
        self.send_response_only(HTTPStatus.CONTINUE)
        self.end_headers()
        self.wfile.flush()

    def _linger(self) -> None:
        """Closing a socket with unread input sends a reset, which can destroy the answer
        before the client reads it: so stop sending and discard what comes for a moment."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self._reader.deadline = time.monotonic() + LINGER
            discarded = 0  # bounded in bytes too: a fast sender would otherwise cost CPU
            while discarded < 16 * DRAIN_LIMIT and (chunk := self._input.read1(65536)):
                discarded += len(chunk)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):  # not to stderr
            log.debug("%s - %s", self.address_string(), format % args)

    def _content_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self.close_connection = True  # where this body ends is anyone's guess
            return 0


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    """A thread per connection, at most ``limits.max_connections`` of them open.

    A new connection past the cap takes the place of the oldest one still waiting for its
    request headers (slow, or idle between requests), so a crowd of slow clients cannot keep
    others out; a request being served is never cut off. Only when every connection is
    being served is the newcomer turned away, with a 503."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # with the default 5, a burst of clients waits 1 s to connect

    def __init__(
        self,
        server_address: tuple[str, int],
        handler: type[RequestHandler],
        limits: ServerLimits | None = None,
    ) -> None:
        self.limits = limits or ServerLimits()
        self._lock = threading.Lock()
        # Each open connection: since when it has been waiting for a request, or None while
        # its request is being served.
        self._connections: dict[socket.socket, float | None] = {}
        super().__init__(server_address, handler)

    def get_request(self) -> tuple[Any, Any]:
        try:
            return super().get_request()
        except OSError as error:
            if error.errno in _OUT_OF_FILES:
                # The listening socket stays readable: without a pause, select() and a
                # failing accept() would spin. A waiting connection makes way, as at the cap.
                with self._lock:
                    self._evict()
                time.sleep(ACCEPT_BACKOFF)
            raise

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self._lock:
            admitted = len(self._connections) < self.limits.max_connections or self._evict()
            if admitted:
                self._connections[request] = time.monotonic()
        if not admitted:
            try:
                request.setblocking(False)
                request.send(_BUSY)
            except OSError:
                pass
        return admitted

    def close_request(self, request: Any) -> None:
        with self._lock:
            self._connections.pop(request, None)
        super().close_request(request)

    def waiting(self, sock: socket.socket) -> None:
        """The connection waits for its next request."""
        with self._lock:
            if sock in self._connections:
                self._connections[sock] = time.monotonic()

    def serving(self, sock: socket.socket) -> bool:
        """The connection's request goes to the application, unless it has made way."""
        with self._lock:
            if sock not in self._connections:
                return False
            self._connections[sock] = None
            return True

    def _evict(self) -> bool:
        """End the connection waiting longest for its request (lock held)."""
        waiting = [(since, s) for s, since in self._connections.items() if since is not None]
        if not waiting:
            return False
        _, sock = min(waiting, key=lambda pair: pair[0])
        del self._connections[sock]
        try:
            sock.shutdown(socket.SHUT_RDWR)  # its thread's read ends; the thread closes it
        except OSError:
            pass
        log.debug("%d connections: the one waiting longest made way", len(self._connections))
        return True
