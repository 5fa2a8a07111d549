"""A threaded loopback server for the sandbox, where dropped connections are real."""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import uuid
from collections.abc import Callable
from http import HTTPStatus
from socketserver import TCPServer, ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from bridge.httpserver import RequestHandler, ResponseHandler
from bridge.sandbox.app import SandboxApp
from bridge.sandbox.auth import redact
from bridge.sandbox.config import SandboxConfig
from bridge.sandbox.errors import ConnectionDropped

logger = logging.getLogger("bridge.sandbox")

# Idle workers kept waiting for the next connection; busier moments start more.
_MAX_IDLE_WORKERS = 8


class _Handler(ResponseHandler):
    """The shared handler, with errors routed to logging and drops honoured."""

    def log_exception(self, exc_info: Any) -> None:
        logger.error("unhandled error in the sandbox", exc_info=exc_info)

    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], ConnectionDropped):
            # Write nothing and close: the client gets no answer at all.
            self.request_handler.close_connection = True
            return
        super().handle_error()


class _RequestHandler(RequestHandler):
    """Persistent connections, as the real API's servers keep them."""

    response_handler = _Handler

    def log_message(self, format: str, *args: Any) -> None:
        # wsgiref logs every request to stderr; keep that at DEBUG, through logging.
        # An authorization code in a request line is a credential: never logged.
        shown = [redact(arg) if isinstance(arg, str) else arg for arg in args]
        logger.debug("%s " + format, self.address_string(), *shown)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors found before the app runs (bad request line, ...) use the envelope too."""
        envelope = {
            "code": "badRequest" if 400 <= code < 500 else "internalError",
            "message": message or HTTPStatus(code).phrase,
            "requestId": str(uuid.uuid4()),
        }
        body = json.dumps(envelope).encode("utf-8")
        self.close_connection = True
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()


_Job = tuple[Any, Any]  # a connection (socket) and its client address, as socketserver has them


class _Workers:
    """Daemon threads that serve connection after connection.

    A thread per connection, as ``ThreadingMixIn`` starts, costs about 0.2 ms here, as
    much as handling a small request; an idle worker takes the next connection instead.
    When none is idle another one starts, so every connection is still served at once
    (a slow or faulted request never holds up another); at most ``_MAX_IDLE_WORKERS``
    stay waiting afterwards.
    """

    def __init__(self, serve: Callable[[Any, Any], None], name: str) -> None:
        self._serve = serve
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a job that no submitted job has claimed yet
        self._alive = 0

    def submit(self, request: Any, client_address: Any) -> None:
        with self._lock:
            start = self._idle == 0
            if start:
                self._alive += 1
            else:
                self._idle -= 1
        self._jobs.put((request, client_address))
        if start:
            threading.Thread(target=self._work, name=self._name, daemon=True).start()

    def stop(self) -> None:
        """Make every worker end once done with its connection; waits for none of them."""
        with self._lock:
            for _ in range(self._alive):
                self._jobs.put(None)
            self._alive = self._idle = 0

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._serve(*job)
            with self._lock:
                if self._idle >= _MAX_IDLE_WORKERS:
                    self._alive -= 1
                    return
                self._idle += 1


class _Server(ThreadingMixIn, WSGIServer):
    """``ThreadingMixIn``'s handling of each connection, run by reusable workers.

    As before, the workers are daemon threads and closing waits for none of them.
    """

    allow_reuse_address = True
    request_queue_size = 128  # with the default 5, a burst of clients waits 1 s to connect

    def __init__(self, address: tuple[str, int], handler: type[WSGIRequestHandler]) -> None:

        # Before binding: a failed bind calls server_close, which stops the workers.
        self._workers = _Workers(self.process_request_thread, "aurinko-sandbox-worker")
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host's FQDN: slow, and pointless here.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def process_request(self, request: Any, client_address: Any) -> None:
        self._workers.submit(request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self._workers.stop()


class RunningSandbox:
    """A sandbox served on a loopback port by a background thread; a context manager."""

    def __init__(self, app: SandboxApp, server: _Server, owns_app: bool) -> None:
        self.app = app
        self._server = server
        self._owns_app = owns_app
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}/v1"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"aurinko-sandbox-{self.port}", daemon=True,
        )  # fmt: skip
        self._stopped = False

    def start(self) -> RunningSandbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; close the app too if we built it."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._owns_app:
            self.app.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_thread(
    config_or_app: SandboxConfig | SandboxApp, host: str = "127.0.0.1", port: int = 0
) -> RunningSandbox:
    """Serve a sandbox on ``host:port`` (0 = a free port) from a daemon thread."""
    owns_app = isinstance(config_or_app, SandboxConfig)
    app = SandboxApp(config_or_app) if isinstance(config_or_app, SandboxConfig) else config_or_app
    try:
        server = _Server((host, port), _RequestHandler)
    except BaseException:
        if owns_app:
            app.close()
        raise
    server.set_app(app)
    running = RunningSandbox(app, server, owns_app).start()
    logger.info("sandbox listening on %s", running.url)
    return running
