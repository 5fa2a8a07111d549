"""The front on ``bridge.httpserver``'s threaded server, on a thread of its own."""

from __future__ import annotations

import threading
from typing import Self

from ..config import Config
from ..httpserver import RequestHandler, ServerLimits, ThreadingServer
from ..push import WebDAVPush
from ..webhooks import WebhookEndpoint
from .app import Front
from .wsgi import WSGIApp


class FrontServer:
    """``front`` listening on ``[server] host`` and ``port``; ``url`` is the CardDAV root.
    Binding fails with OSError before anything starts."""

    def __init__(
        self,
        config: Config,
        front: Front,
        limits: ServerLimits | None = None,
        *,
        app: WSGIApp | None = None,
    ) -> None:
        """``limits``: connections and timeouts (the defaults in ``bridge.httpserver``);
        ``app``: what is served, when ``front`` is wrapped (by the operators' doors)."""
        self.front = front
        limits = limits or ServerLimits(
            config.max_connections, config.idle_timeout, config.request_timeout
        )
        self._server = ThreadingServer((config.host, config.port), RequestHandler, limits)
        self._server.set_app(app or front)
        self.url = f"http://{config.host}:{self._server.server_port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        front.start()

    @property
    def webhooks(self) -> WebhookEndpoint | None:
        return self.front.webhooks

    @property
    def push(self) -> WebDAVPush | None:
        return self.front.push.push if self.front.push is not None else None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.front.close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
