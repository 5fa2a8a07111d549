"""wsgiref's server, keeping HTTP/1.1 connections open between requests, within limits.

wsgiref answers one request per connection. Clients send bursts of small requests (a CardDAV
sync is a REPORT and then multigets, GETs and PUTs; the engine's pushes are PATCH after
PATCH), and a new TCP connection and thread per request costs more than serving a GET. Here
a connection serves requests until the client closes it, idles past its idle timeout, sends
``Connection: close``, or gets an answer whose end only the connection's close can mark.

What a client cannot do (issue 11): hold a connection with a request trickled a byte at a
time (a request, headers and body, must arrive within ``request_timeout`` of its first
byte), open connections without bound (past ``max_connections`` the oldest connection still
waiting for its request headers makes way), or get a ``100 Continue`` for a body the
application never reads (the interim answer leaves on the body's first read).
Both the CardDAV server and the sandbox run on it; it knows nothing of either.
"""

from __future__ import annotations

import errno
import io
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any, cast
from wsgiref.headers import Headers
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 60.0  # seconds a connection may wait for a request's first byte
REQUEST_TIMEOUT = 60.0  # seconds from a request's first byte to its body's last
MAX_CONNECTIONS = 200  # well under the usual limit of 1,024 open files
DRAIN_LIMIT = 1024 * 1024  # unread request bytes skipped to reuse a connection, at most
LINGER = 2.0  # seconds, at most, spent discarding an unread body before closing
ACCEPT_BACKOFF = 0.05  # seconds to pause when accept() finds no file descriptor free
_OUT_OF_FILES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\n"
)


def read_body(environ: dict[str, Any], length: int) -> bytes | tuple[str, str]:
    """A WSGI request's whole body of ``length`` bytes, or the status and reason to refuse
    the request with: the body's deadline passed (408), it could not be read or ended short
    of its Content-Length (400)."""
    try:
        body: bytes = environ["wsgi.input"].read(length) if length else b""
    except TimeoutError:
        return "408 Request Timeout", "the request body did not arrive in time"
    except OSError:
        return "400 Bad Request", "the request body could not be read"
    if len(body) < length:
        return "400 Bad Request", (
            f"the request body ended after {len(body)} of its {length} bytes (Content-Length)"
        )
    return body


@dataclass(frozen=True)
class ServerLimits:
    """What one server spends on its clients: open connections, and seconds of waiting."""

    max_connections: int = MAX_CONNECTIONS
    idle_timeout: float = IDLE_TIMEOUT
    request_timeout: float = REQUEST_TIMEOUT


class _DeadlineReader(io.RawIOBase):
    """The connection's input, every read of which ends by ``deadline`` (monotonic). A
    socket timeout alone restarts with each byte received, so a request trickled a byte at a
    time would never time out."""

    def __init__(self, sock: socket.socket, write_timeout: float | None) -> None:
        self._sock = sock
        self._write_timeout = write_timeout  # the socket's timeout while answering
        self.deadline = time.monotonic()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's time is up")
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        finally:
            self._sock.settimeout(self._write_timeout)


class _Body:
    """The request body as ``wsgi.input``: reads stop at its Content-Length, so the next
    request on the connection is never read as this one's body. The first read sends the
    ``100 Continue`` a client may be waiting for (``on_first_read``): a request answered
    without its body being read never invites the body."""

    def __init__(
        self, stream: io.BufferedIOBase, length: int, on_first_read: Callable[[], None] | None
    ) -> None:
        self._stream = stream
        self.remaining = length
        self.on_first_read = on_first_read
        self.failed = False  # a read ran out of time, or the client went

    def read(self, size: int = -1) -> bytes:
        return self._read(self._stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._read(self._stream.readline, size)

    def _read(self, read: Callable[[int], bytes], size: int) -> bytes:
        if size < 0 or size > self.remaining:
            size = self.remaining
        if not size:
            return b""
        if self.on_first_read is not None:
            self.on_first_read()
            self.on_first_read = None
        try:
            data = read(size)
        except OSError:
            self.failed = True
            raise
        self.remaining -= len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def drainable(self) -> bool:
        """Whether what the application left unread can be skipped to reuse the connection:
        not if too much is left to bother, the client was never asked for it (it may never
        come), or it stopped coming."""
        return not self.remaining or (
            self.remaining <= DRAIN_LIMIT and self.on_first_read is None and not self.failed
        )

    def drain(self) -> bool:
        """Skip what the application left unread; False if it cannot be, or does not come."""
        if not self.drainable():
            return False
        try:
            while self.remaining:
                if not self.read(min(self.remaining, 65536)):
                    return False
        except OSError:
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
        self.body = body

    answered = False  # wsgiref's own headers_sent is reset when the handler closes

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        self.answered = True

        assert self.headers is not None
        if "Content-Length" not in self.headers:  # a streamed answer: its end is the close
            self.request_handler.close_connection = True
        if not self.body.drainable():  # the rest of the request is not worth reading
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
    timeout = IDLE_TIMEOUT  # for writes; reads are bounded by the request's deadline
    wbufsize = 64 * 1024  # status line, headers and body leave in one write, not five
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the plain socket file, replaced by one that keeps the deadline
        self._reader = _DeadlineReader(self.connection, self.timeout)
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
        body = _Body(self.rfile, length, self._send_continue if self._expecting else None)
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
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return False
        return self.parse_request()  # False: it has answered with an error

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue``, seen by parse_request: the interim answer waits for the
        application's first read of the body, so a request refused unread never invites it."""
        self._expecting = True
        return True

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
        log.debug("%s - %s", self.address_string(), format % args)  # not to stderr

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
