"""A threaded loopback server for the sandbox, where dropped connections are real."""

from __future__ import annotations

import json
import logging
import sys
import threading
import uuid
from http import HTTPStatus
from socketserver import TCPServer, ThreadingMixIn
from types import TracebackType
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from bridge.sandbox.app import SandboxApp
from bridge.sandbox.config import SandboxConfig
from bridge.sandbox.errors import ConnectionDropped

logger = logging.getLogger("bridge.sandbox")


class _Handler(ServerHandler):
    """wsgiref's handler, with errors routed to logging and drops honoured."""

    def log_exception(self, exc_info: Any) -> None:
        logger.error("unhandled error in the sandbox", exc_info=exc_info)

    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], ConnectionDropped):
            # Write nothing: the request handler closes the socket, the client gets no answer.
            return
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # wsgiref logs every request to stderr; keep that at DEBUG, through logging.
        logger.debug("%s " + format, self.address_string(), *args)

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

    def handle(self) -> None:
        """One request per connection, as wsgiref does, with our ``_Handler``."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline, self.request_version, self.command = "", "", ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(
            self.rfile, cast(IO[bytes], self.wfile), self.get_stderr(), self.get_environ(),
            multithread=True,
        )  # fmt: skip
        handler.request_handler = self  # type: ignore[attr-defined]  # wsgiref's back-pointer
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host's FQDN: slow, and pointless here.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


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
