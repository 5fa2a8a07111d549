"""``RunningServer``: the bridge's front over its CardDAV application on a thread, composed
as ``serve`` composes them, for tests that talk to a real server."""

from __future__ import annotations

from bridge.config import Config
from bridge.front.compose import compose
from bridge.front.server import FrontServer
from bridge.httpserver import ServerLimits
from bridge.push import PushOptions
from bridge.sync import SyncEngine
from radicale_plugin.server import CardDAVApp
from radicale_plugin.wsgi import BridgeMiddleware


class RunningServer(FrontServer):
    """The CardDAV application behind the bridge's front, served on a thread, as ``serve``
    composes them; ``url`` is the CardDAV root."""

    def __init__(
        self,
        config: Config,
        engine: SyncEngine,
        bridge_key: str,
        *,
        stream_listings: bool = True,
        limits: ServerLimits | None = None,
        push_options: PushOptions | None = None,
    ) -> None:
        """``limits``: connections and timeouts (the defaults in ``bridge.httpserver``);
        ``push_options``: WebDAV-Push's timing (``[push] enabled`` turns it on, the default)."""
        self.carddav = CardDAVApp(config, engine, bridge_key, stream_listings=stream_listings)
        self.storage = self.carddav.storage
        try:
            super().__init__(config, compose(config, engine, self.carddav, push_options), limits)
        except BaseException:
            self.carddav.close()
            raise

    @property
    def wrapper(self) -> BridgeMiddleware:
        """The CardDAV application the front hands requests to."""
        carddav = self.front.carddav
        assert isinstance(carddav, BridgeMiddleware)
        return carddav

    def stop(self) -> None:
        super().stop()
        self.carddav.close()
