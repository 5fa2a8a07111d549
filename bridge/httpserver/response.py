"""One WSGI application call (PEP 3333) and the answer it writes.

``wsgiref``'s handler does the same with a copy of the process environment, a ``Headers``
object and a flush per write; here the status line, header fields and a one-piece body
leave in one write, and a streamed body fills the connection's buffer before it is sent.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import dates
from .body import RequestBody

if TYPE_CHECKING:
    from .connections import RequestHandler

log = logging.getLogger("bridge.httpserver")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_ERROR_BODY = b"A server error occurred.  Please contact the administrator."
_CLIENT_GONE = (ConnectionAbortedError, BrokenPipeError, ConnectionResetError)


class ResponseHandler:
    """Runs the application for one request; decides whether the connection may serve
    another (``request_handler.close_connection``)."""

    def __init__(self, request: RequestHandler, body: RequestBody) -> None:
        self.request_handler = request
        self.body = body
        self.environ = request.wsgi_environ(body)
        self.status = ""
        self.headers: list[tuple[str, str]] | None = None
        self.answered = False  # the status line and header fields have gone out
        self.bytes_sent = 0
        self._result: Iterable[bytes] = ()

    def run(self, app: WSGIApp) -> None:
        try:
            self._result = app(self.environ, self.start_response)
            self._finish()
        except _CLIENT_GONE:
            self.request_handler.close_connection = True
        except Exception:
            try:
                self.handle_error()
            except Exception:
                self.request_handler.close_connection = True
                raise

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            if self.answered:  # too late to answer otherwise: end the request
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.headers is not None:
            raise AssertionError("start_response called twice without exc_info")
        if not isinstance(status, str) or not all(
            isinstance(name, str) and isinstance(value, str) for name, value in headers
        ):
            raise TypeError("a WSGI status and header fields are str")
        self.status = status
        self.headers = list(headers)
        return self.write

    def write(self, data: bytes) -> None:
        if self.headers is None:
            raise AssertionError("write() before start_response()")
        out = self.request_handler.wfile
        if not self.answered:
            out.write(self._head(data))
        self.bytes_sent += len(data)
        out.write(data)

    def _finish(self) -> None:
        result = self._result
        try:
            if isinstance(result, list | tuple) and len(result) == 1 and not self.answered:
                self._write_whole(result[0])
            else:
                for data in result:
                    self.write(data)
                if not self.answered:
                    self._write_whole(b"")
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self.request_handler.log_request(self.status.split(" ", 1)[0], self.bytes_sent)

    def _write_whole(self, data: bytes) -> None:
        """A body known whole before the head goes: its length is the Content-Length."""
        assert self.headers is not None, "the application returned without start_response"
        if not any(name.lower() == "content-length" for name, _ in self.headers):
            self.headers.append(("Content-Length", str(len(data))))
        request = self.request_handler
        head = self._head(data)
        request.wfile.flush()  # an interim answer, if any, is already out: this one is whole
        request.connection.sendall(head + data)
        self.bytes_sent = len(data)

    def _head(self, first: bytes) -> bytes:
        """The status line and header fields; the connection's fate is decided here."""
        assert self.headers is not None
        self.answered = True
        request = self.request_handler
        names = {name.lower() for name, _ in self.headers}
        if "content-length" not in names:  # a streamed answer: its end is the close
            request.close_connection = True
        if not self.body.drainable():  # the rest of the request is not worth reading
            request.close_connection = True
        lines = [f"HTTP/1.1 {self.status}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if "date" not in names:
            lines.append(f"Date: {dates.now()}")
        if "server" not in names:
            lines.append(f"Server: {request.server_version}")
        if request.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1")

    def handle_error(self) -> None:
        """The application failed: a 500 if nothing went out yet; the connection ends, since
        an answer already begun may be cut short."""
        self.request_handler.close_connection = True
        self.log_exception(sys.exc_info())  # type: ignore[arg-type]
        if not self.answered:
            self.headers = None
            self.start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            self._result = [_ERROR_BODY]
            self._finish()

    def log_exception(self, exc_info: ExcInfo) -> None:
        log.error("unhandled error answering %s", self.environ.get("PATH_INFO"), exc_info=exc_info)
