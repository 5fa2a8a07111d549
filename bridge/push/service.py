"""WebDAV-Push for one engine's books: topics, subscriptions and the sender."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from ..config import PushConfig
from ..store import Book
from ..store.push import PushStore, Subscription, SubscriptionLimit
from ..sync import SyncEngine
from .destination import DestinationRefused, Destinations, Resolver, system_resolve
from .notifier import Notifier, PushOptions
from .protocol import (
    INVALID_SUBSCRIPTION,
    PUSH_NOT_AVAILABLE,
    Registration,
    RegistrationError,
    b64encode,
)
from .vapid import DEFAULT_CONTACT, Vapid


class WebDAVPush:
    """Registrations and messages for the books of ``engine``'s store. ``sync_token``
    renders a book's sync token at a change-log position (the CardDAV front end's), for
    the messages; ``start`` runs the sender (only ``serve`` does)."""

    def __init__(
        self,
        engine: SyncEngine,
        settings: PushConfig | None = None,
        options: PushOptions | None = None,
        *,
        sync_token: Callable[[int, int], str] | None = None,
        resolve: Resolver = system_resolve,
        counted: Callable[[bool], None] | None = None,
    ) -> None:
        """``resolve`` names hosts, for the destination check (tests give their own);
        ``counted`` is told whether each message went out (the metrics)."""
        self.engine = engine
        self.settings = settings or PushConfig()
        self.options = options or PushOptions()
        self.store = PushStore(engine.db)
        self.vapid = Vapid.of_store(self.store, self.settings.contact or DEFAULT_CONTACT)
        self.destinations = Destinations(self.settings.allow_hosts, resolve)
        self.notifier = Notifier(
            self.store,
            self.vapid,
            self.topic_of,
            owns=engine.locks.try_own,
            sync_token=sync_token,
            options=self.options,
            destinations=self.destinations,
            per_minute=self.settings.max_messages_per_minute,
            counted=counted,
        )

    @property
    def vapid_public_key(self) -> str:
        return self.vapid.public_key

    def topic_of(self, book_id: int) -> str:
        """The book's push topic: opaque (the push service sees it in ``Topic``), the same
        on every instance sharing the store, new for a book deleted and made again."""
        digest = hashlib.sha256(f"webdav-push:{self.engine.store.epoch}:{book_id}".encode())
        return b64encode(digest.digest()[:16])  # 22 characters: Topic allows 32

    def expiry(self, requested: float | None, now: float) -> float:
        """When a registration made at ``now`` expires: as asked, within the server's
        bounds; the default when it asked for none (or for a time already past)."""
        if requested is None or requested <= now:
            return now + self.options.default_expiry
        return min(requested, now + self.options.max_expiry)

    def register(
        self, book: Book, user: str, registration: Registration, now: float | None = None
    ) -> tuple[Subscription, bool]:
        """Subscribe (True) or renew (False) ``registration`` on ``book`` for its owner;
        RegistrationError when its push resource is not a public address (nor one the
        operator allowed) or the user holds as many subscriptions as a user may."""
        now = time.time() if now is None else now
        try:
            self.destinations.check_url(registration.endpoint)
        except DestinationRefused as exc:
            raise RegistrationError(
                INVALID_SUBSCRIPTION,
                f"push-resource refused: {exc}; push messages go to public addresses only",
            ) from None
        limit = self.settings.max_subscriptions_per_user
        try:
            subscription, created = self.store.register(
                book_id=book.id,
                owner=user,
                endpoint=registration.endpoint,
                public_key=registration.public_key,
                auth_secret=registration.auth_secret,
                content_encoding=registration.content_encoding,
                expires=self.expiry(registration.expires, now),
                now=now,
                limit=limit,
            )
        except SubscriptionLimit:
            raise RegistrationError(
                PUSH_NOT_AVAILABLE,
                f"at most {limit} WebDAV-Push registrations per user: remove one first",
            ) from None
        self.notifier.track(book.id)
        return subscription, created

    def unregister(self, user: str, subscription_id: int) -> bool:
        """Remove the user's own registration; False if it is unknown, someone else's or
        expired (an expired one is removed all the same)."""
        subscription = self.store.get(subscription_id)
        if subscription is None or subscription.owner != user:
            return False
        expired = subscription.expires is not None and subscription.expires <= time.time()
        return self.store.delete(subscription_id) and not expired

    def start(self) -> None:
        self.notifier.start()

    def close(self) -> None:
        self.notifier.close()
