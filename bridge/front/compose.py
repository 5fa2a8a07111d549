"""The front over a CardDAV application, with the doors the configuration asks for: the
status page always, Aurinko's webhooks when ``[webhooks]`` is set, WebDAV-Push unless
``[push] enabled = false``."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Config
from ..push import PushFront, PushOptions, WebDAVPush
from ..statuspage import StatusPage
from ..sync import SyncEngine
from ..webhooks import WebhookEndpoint
from .app import Front
from .seams import CardDAV


def compose(
    config: Config,
    engine: SyncEngine,
    carddav: CardDAV,
    push_options: PushOptions | None = None,
    *,
    counted: Callable[[bool], None] | None = None,
) -> Front:
    """``push_options``: WebDAV-Push's timing (tests make it fast); ``counted`` is told
    whether each push message went out (the metrics)."""
    push = webdav_push(config, engine, carddav, push_options, counted)
    push_front = PushFront(push, carddav.realm) if push is not None else None
    webhooks = (
        WebhookEndpoint(engine, config.webhooks, config.webhooks.read_secret())
        if config.webhooks is not None
        else None
    )
    return Front(
        carddav.application(push_front),  # push adds its properties to CardDAV's answers
        door=carddav.door,
        status_page=StatusPage(engine, config),
        webhooks=webhooks,
        push=push_front,
    )


def webdav_push(
    config: Config,
    engine: SyncEngine,
    carddav: CardDAV,
    options: PushOptions | None,
    counted: Callable[[bool], None] | None = None,
) -> WebDAVPush | None:
    if not config.push.enabled:
        return None
    # A push message carries the sync token a sync-collection REPORT would answer.
    return WebDAVPush(engine, config.push, options, sync_token=carddav.sync_token, counted=counted)
