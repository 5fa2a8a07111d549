"""A request's input: reads bounded by the request's deadline, and the body by its length."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

DRAIN_LIMIT = 1024 * 1024  # unread request bytes skipped to reuse a connection, at most


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


class DeadlineReader(io.RawIOBase):
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


class RequestBody:
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
