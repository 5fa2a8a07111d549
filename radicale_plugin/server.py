"""Radicale with the bridge's storage, rights and WSGI wrapper, on a threaded server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import radicale.config
from radicale.app import Application

from bridge import webhooks
from bridge.config import Config
from bridge.httpserver import RequestHandler, ServerLimits, ThreadingServer
from bridge.operations import Operations
from bridge.push import PushFront, PushOptions, WebDAVPush
from bridge.statuspage import StatusPage
from bridge.sync import SyncEngine
from bridge.webhooks import WebhookEndpoint

from . import runtime
from .auth import HtpasswdAuth
from .tokens import make_token
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
                # A refused password waits this (times 0.5-1.5) on CardDAV; the bridge's
                # own doors take it from here too (``logins``).
                "delay": str(config.login_delay),
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


class RefusedCardFilter(logging.Filter):
    """A card refused for what it holds is the client's mistake, not the server's: Radicale
    logs its "Bad PUT request" warning with a traceback; the warning and its reason stay,
    the traceback only at -vv (debug), where it helps to read a refusal's cause."""

    def filter(self, record: logging.LogRecord) -> bool:
        refused = isinstance(record.msg, str) and record.msg.startswith("Bad PUT request on ")
        if (
            refused
            and record.exc_info
            and not logging.getLogger("radicale").isEnabledFor(logging.DEBUG)
        ):
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_refused_cards() -> None:
    """Once per process: Radicale's logger gets the filter."""
    radicale_log = logging.getLogger("radicale")
    if not any(isinstance(f, RefusedCardFilter) for f in radicale_log.filters):
        radicale_log.addFilter(RefusedCardFilter())


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
        push_options: PushOptions | None = None,
        operations: Operations | None = None,
    ) -> None:
        """``limits``: connections and timeouts (the defaults in ``bridge.httpserver``);
        ``push_options``: WebDAV-Push's timing (``[push] enabled`` turns it on, the default);
        ``operations``: health, metrics and request ids (health alone by default)."""
        operations = operations or Operations()
        self.bridge_key = bridge_key
        runtime.install(bridge_key, runtime.Bridge(engine, config))
        quiet_refused_cards()
        configuration = radicale_configuration(config, bridge_key)
        radicale = Application(configuration)
        # Swapped in after the fact: given as [auth] type, it would lose the login cache,
        # which Radicale keeps for its own htpasswd type only.
        radicale._auth = HtpasswdAuth(configuration)
        self.storage = radicale._storage  # tests hold its book locks
        page = StatusPage(engine, config)
        self.webhooks = (
            WebhookEndpoint(engine, config.webhooks, config.webhooks.read_secret())
            if config.webhooks is not None
            else None
        )
        self.push = _webdav_push(config, engine, push_options, operations.push_counted)
        self.carddav = BridgeMiddleware(
            radicale,
            stream_listings=stream_listings,
            status_page=page,
            webhooks=self.webhooks,
            push=PushFront(self.push, radicale._auth_realm) if self.push is not None else None,
        )
        app = operations.front(self.carddav, engine, is_webhook=webhooks.handles)

        limits = limits or ServerLimits(
            config.max_connections, config.idle_timeout, config.request_timeout
        )
        self._server = ThreadingServer((config.host, config.port), RequestHandler, limits)
        self._server.set_app(app)
        self.url = f"http://{config.host}:{self._server.server_port}/"

        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        if self.push is not None:
            self.push.start()  # the sender: serve's alone, not a folder watcher's

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self.push is not None:
            self.push.close()
        if self.webhooks is not None:
            self.webhooks.close()
        self._thread.join(timeout=10)
        runtime.uninstall(self.bridge_key)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _webdav_push(
    config: Config,
    engine: SyncEngine,
    options: PushOptions | None,
    counted: Callable[[bool], None],
) -> WebDAVPush | None:
    if not config.push.enabled:
        return None
    epoch = engine.store.epoch

    def sync_token(book_id: int, seq: int) -> str:  # what a sync-collection REPORT answers
        return make_token(epoch, book_id, seq)

    return WebDAVPush(engine, config.push, options, sync_token=sync_token, counted=counted)
