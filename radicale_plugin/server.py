"""The CardDAV application ``serve`` puts behind the bridge's front (``bridge.front``):
Radicale with the bridge's storage, rights and WSGI wrapper. It knows nothing of the doors
the front adds (the status page, webhooks, WebDAV-Push)."""

from __future__ import annotations

import logging
from typing import Any

import radicale.config
from radicale.app import Application

from bridge.config import Config
from bridge.front.seams import AnswerHooks
from bridge.front.wsgi import Environ
from bridge.sync import SyncEngine

from . import runtime
from .auth import HtpasswdAuth
from .logins import Logins
from .storage import Storage
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


class CardDAVApp:
    """Radicale serving ``engine``'s books, as ``bridge.front.CardDAV``: its wrapped
    application, its login check at the bridge's doors, its sync tokens."""

    def __init__(
        self, config: Config, engine: SyncEngine, bridge_key: str, *, stream_listings: bool = True
    ) -> None:
        """``stream_listings=False`` leaves listings and card GETs to Radicale (the
        reference in tests)."""
        self.bridge_key = bridge_key
        self.epoch = engine.store.epoch
        self.stream_listings = stream_listings
        runtime.install(bridge_key, runtime.Bridge(engine, config))
        quiet_refused_cards()
        configuration = radicale_configuration(config, bridge_key)
        self.radicale = Application(configuration)
        # Swapped in after the fact: given as [auth] type, it would lose the login cache,
        # which Radicale keeps for its own htpasswd type only.
        self.radicale._auth = HtpasswdAuth(configuration)
        storage = self.radicale._storage
        assert isinstance(storage, Storage)
        self.storage = storage  # tests hold its book locks
        self.realm: str = self.radicale._auth_realm
        self.logins = Logins(self.radicale)

    def door(self, environ: Environ) -> str | None:
        return self.logins.at_door(environ)

    def sync_token(self, book_id: int, seq: int) -> str:
        return make_token(self.epoch, book_id, seq)

    def application(self, hooks: AnswerHooks | None) -> BridgeMiddleware:
        return BridgeMiddleware(
            self.radicale, stream_listings=self.stream_listings, logins=self.logins, hooks=hooks
        )

    def close(self) -> None:
        runtime.uninstall(self.bridge_key)


def carddav_app(config: Config, engine: SyncEngine, bridge_key: str) -> CardDAVApp:
    """What ``serve`` puts behind the front (``bridge_key`` names the bridge to Radicale's
    storage, which Radicale creates itself)."""
    return CardDAVApp(config, engine, bridge_key)
