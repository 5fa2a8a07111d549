"""Radicale with the bridge's storage, rights and WSGI wrapper, on a threaded server."""

from __future__ import annotations

import threading
from typing import Any

import radicale.config
from radicale.app import Application

from bridge.config import Config
from bridge.httpserver import RequestHandler, ServerLimits, ThreadingServer
from bridge.statuspage import StatusPage
from bridge.sync import SyncEngine

from . import runtime
from .auth import HtpasswdAuth
from .wsgi import BridgeMiddleware


def radicale_configuration(config: Config, bridge_key: str) -> Any:
    """Radicale's settings for serving ``config``: htpasswd auth, always on."""
    if config.htpasswd is None:
        raise ValueError("[server] htpasswd is required: authentication is always on")
    configuration = radicale.config.load()
    configuration.update(
        {
            "server": {"_internal_server": "True"},
            "auth": {
                "type": "htpasswd",
                "htpasswd_filename": str(config.htpasswd),
                "htpasswd_encryption": "autodetect",
                # A SHA-512 or bcrypt check costs a good part of a second; clients send
                # bursts of requests, so a successful login is remembered for a while
                # (and a failed one too), until the file changes (HtpasswdAuth).
                "cache_logins": "True",
            },
            "rights": {"type": "radicale_plugin.rights"},
            "storage": {"type": "radicale_plugin", "bridge_config": bridge_key},
            "web": {"type": "none"},
            "sharing": {"type": "none"},
            "logging": {"mask_passwords": "True"},
        },
        "aurinko-bridge",
        privileged=True,
    )
    return configuration


class RunningServer:
    """A Radicale+bridge server on a thread; ``url`` is the CardDAV root."""

    def __init__(
        self,
        config: Config,
        engine: SyncEngine,
        bridge_key: str,
        *,
        stream_listings: bool = True,
        limits: ServerLimits | None = None,
    ) -> None:
        """``limits``: connections and timeouts (the defaults in ``bridge.httpserver``)."""
        self.bridge_key = bridge_key
        runtime.install(bridge_key, runtime.Bridge(engine, config))
        configuration = radicale_configuration(config, bridge_key)
        radicale = Application(configuration)
        # Swapped in after the fact: given as [auth] type, it would lose the login cache,
        # which Radicale keeps for its own htpasswd type only.
        radicale._auth = HtpasswdAuth(configuration)
        page = StatusPage(engine, config)
        app = BridgeMiddleware(radicale, stream_listings=stream_listings, status_page=page)

        limits = limits or ServerLimits(
            config.max_connections, config.idle_timeout, config.request_timeout
        )
        self._server = ThreadingServer((config.host, config.port), RequestHandler, limits)
        self._server.set_app(app)
        self.url = f"http://{config.host}:{self._server.server_port}/"

        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        runtime.uninstall(self.bridge_key)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
