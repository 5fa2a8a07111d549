"""The sender's HTTP transport: every connection goes to an address that passed the
destination check, and every message has a deadline for all of it.

httpx connects by name; here the name is resolved once per connection, the answers are
checked (``Destinations.addresses``) and the socket goes to one of those very addresses,
so a name that changes its answer between the check and the connection (DNS rebinding)
cannot slip through. The URL keeps its name: the ``Host`` header, TLS's SNI and the
certificate check are all for the name, as with any other connection. No proxy is used
(one would connect wherever it is asked to).

httpx's timeouts bound each step (connect, each read, each write); a service that trickles
a byte now and then could hold a sender for long. ``deadline`` bounds a whole exchange:
each step gets at most what is left of it.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterable, Iterator

import httpcore
import httpx

from .destination import DestinationRefused, Destinations

_local = threading.local()  # .deadline: the monotonic time the current exchange ends at


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """The HTTP exchanges made in this block (on this thread) end within ``seconds``."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.deadline = previous


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the deadline; ``expired`` raised when none is."""
    end: float | None = getattr(_local, "deadline", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise expired("the push message's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Bounded(httpcore.NetworkStream):
    """A stream whose every read and write keeps within the deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Bounded(self._stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connects to a host's checked addresses only (``inner`` opens the sockets)."""

    def __init__(
        self, destinations: Destinations, inner: httpcore.NetworkBackend | None = None
    ) -> None:
        self.destinations = destinations
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.destinations.addresses(host, port)
        except DestinationRefused as exc:
            raise httpcore.ConnectError(f"refused: {exc}") from None
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            left = _left(timeout, httpcore.ConnectTimeout)
            try:
                stream = self.inner.connect_tcp(address, port, left, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # the next address, if there is one
                continue
            return _Bounded(stream)
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("push messages never go to a Unix socket")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport on a connection pool whose connections ``GuardedBackend``
    opens (httpx takes no network backend of its own, so its pool is made again)."""

    def __init__(
        self,
        destinations: Destinations,
        *,
        verify: ssl.SSLContext | bool = True,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(destinations, inner),
        )


def guarded_client(
    destinations: Destinations, *, verify: ssl.SSLContext | bool = True
) -> httpx.Client:
    """An httpx client for push messages: checked addresses, no redirects, no proxy."""
    return httpx.Client(
        transport=GuardedTransport(destinations, verify=verify),
        follow_redirects=False,
        trust_env=False,
    )
