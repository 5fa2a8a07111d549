"""``WebhookManager``: keeps one active Aurinko subscription per book this instance owns.

At start, every ``check_interval`` seconds, and soon after this instance takes a book over
(another instance sharing the store went away), it lists the account's subscriptions and:

- makes one when the book's is missing or has turned inactive (deliveries kept failing:
  Aurinko does not let subscriptions expire otherwise): the renewal;
- removes the book's other subscriptions (duplicates, lapsed ones, those to its URL under
  an earlier ``public_url``: a book keeps its token), and those under this server's prefix
  whose token no book of the store has (left over by an earlier run or a lost answer);
- records the subscription in ``webhook_subscriptions``.

A book's notification URL is recorded before its subscription is asked for: Aurinko checks
the URL (``?validationToken=``) before it answers, and whichever instance gets that check
must know the URL. Failures (Aurinko unreachable, the check failing because ``public_url``
does not reach this server) are logged once per change of state (the book's token, which
Aurinko's message may quote, redacted) and tried again at the next check; polling syncs
the book meanwhile, as it always does.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import urllib.parse

from ..aurinko import AurinkoClient, AurinkoError, NotFoundError
from ..aurinko.models import Subscription
from ..config import WebhooksConfig
from ..store import StoreError
from ..store.webhooks import TOKEN, WebhookRow, WebhookStore
from ..sync import SyncEngine
from . import redact
from .endpoint import AURINKO, notification_url, url_prefix

log = logging.getLogger("bridge.webhooks")

RESOURCE = "/contacts"


class WebhookManager:
    def __init__(
        self,
        engine: SyncEngine,
        config: WebhooksConfig,
        *,
        takeover_check: float | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.hooks = WebhookStore(engine.db)
        self.prefix = url_prefix(config)
        # How often to look for books newly owned (a dead instance's, taken over).
        self._takeover_check = takeover_check or engine.options.takeover_check
        self._states: dict[int, str] = {}  # the last state logged per book
        self._owned: set[int] = set()
        self._asked: set[int] = set()  # books to check now (Aurinko reported an error)
        self._asked_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        redact.install()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="bridge-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop checking; a call to Aurinko under way is left to finish on its own."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        next_full = 0.0
        while not self._stop.is_set():
            full = time.monotonic() >= next_full
            if full:
                next_full = time.monotonic() + self.config.check_interval
            try:
                owned = {b for b in list(self.engine.clients) if self.engine.locks.try_own(b)}
            except Exception as exc:  # the store went away: the next round sees
                log.warning("webhooks: cannot tell which books this instance syncs: %s", exc)
                owned = set()
            self._wake.clear()  # before taking the asks: one made after it wakes the wait
            with self._asked_lock:
                asked, self._asked = self._asked, set()
            due = owned if full else (owned - self._owned) | (asked & owned)
            self._owned = owned
            for book_id in sorted(due):
                if self._stop.is_set():
                    return
                self.check(book_id)
            left = max(0.0, next_full - time.monotonic())
            self._wake.wait(min(left, self._takeover_check))

    def recheck(self, book_id: int) -> None:
        """Check the book's subscription now, not at the next round (a notification said
        it failed); the check runs on the manager's thread, never the caller's."""
        with self._asked_lock:
            self._asked.add(book_id)
        self._wake.set()

    def recovered(self, book_id: int, subscription_id: str) -> None:
        """Aurinko says ``subscription_id`` is active again (lifecycle event ``active``).
        The book's recorded one: seen active now, the book's failure state cleared (logged
        at info), and a check its error asked for dropped: there is nothing to renew.
        Another (the book renewed meanwhile, or forgot it when it lapsed): checked now,
        which keeps the recorded one and removes the other, or adopts it; both without
        subscribing anew."""
        try:
            row = self.hooks.get(book_id)
            ours = row is not None and row.subscription_id == subscription_id
            if ours:
                self.hooks.checked(book_id)
        except StoreError as exc:
            log.warning("webhooks: cannot record book %d's subscription: %s", book_id, exc)
            return
        if not ours:
            self.recheck(book_id)
            return
        with self._asked_lock:
            self._asked.discard(book_id)
        before = self._states.get(book_id)
        self._states[book_id] = "ok"
        if before not in (None, "ok"):
            log.info(
                "webhooks: %s: subscription %s active again; notifications flow",
                self._path(book_id),
                subscription_id,
            )

    # -- one book ----------------------------------------------------------------------

    def check(self, book_id: int) -> Subscription | None:
        """Make sure the book has one active subscription of ours; it, or None when that
        failed (logged when the failure is new)."""
        client = self.engine.clients.get(book_id)
        if client is None:
            return None
        try:
            subscription = self._ensure(book_id, client)
        except (AurinkoError, StoreError) as exc:
            self._state(book_id, exc)
            return None
        except Exception:
            if self._stop.is_set():  # the engine closed under a check outliving the stop
                return None
            log.exception("webhooks: checking the subscription of book %d failed", book_id)
            return None
        self._state(book_id, None, subscription)
        return subscription

    def _ensure(self, book_id: int, client: AurinkoClient) -> Subscription:
        row = self._row(book_id)
        subscriptions = client.subscriptions()
        ours = [s for s in subscriptions if s.notification_url == row.notification_url]
        current = _pick(ours, row.subscription_id)
        if current is None:
            if row.subscription_id:
                log.info(
                    "webhooks: subscription %s of book %d is gone or inactive; renewing",
                    row.subscription_id,
                    book_id,
                )
                self.hooks.forget_subscription(book_id)
            current = client.subscribe(RESOURCE, row.notification_url)
            self.hooks.subscribed(book_id, current.id)
            log.info("webhooks: book %d subscribed (subscription %s)", book_id, current.id)
        elif current.id != row.subscription_id:
            self.hooks.subscribed(book_id, current.id)  # made by another run: adopted
        else:
            self.hooks.checked(book_id)
        for stale in self._stale(subscriptions, row, current):
            try:
                client.unsubscribe(stale.id)
                log.info("webhooks: removed stale subscription %s (%s)", stale.id, book_id)
            except NotFoundError:
                pass  # gone already
        return current

    def _row(self, book_id: int) -> WebhookRow:
        """The book's row, with a notification URL under the current public URL: a book
        keeps its token for good, and only a change of ``public_url`` changes its URL."""
        row = self.hooks.get(book_id)
        if row is None:
            return self.hooks.record_url(book_id, notification_url(self.config, _new_token()))
        if row.notification_url == notification_url(self.config, row.token):
            return row
        token = row.token if TOKEN.fullmatch(row.token) else _new_token()
        return self.hooks.replace_url(book_id, notification_url(self.config, token))

    def _stale(
        self, subscriptions: list[Subscription], row: WebhookRow, current: Subscription
    ) -> list[Subscription]:
        """Subscriptions of the account that are ours but not the book's current one: to
        its token (duplicates, lapsed ones, those under an earlier ``public_url``), or
        under our prefix with a token no book of the store has."""
        known = {r.token for r in self.hooks.all()}
        stale = []
        for subscription in subscriptions:
            url = subscription.notification_url
            if subscription.id == current.id:
                continue
            if _path(url).endswith(AURINKO + row.token):
                stale.append(subscription)
            elif url.startswith(self.prefix):
                token = url[len(self.prefix) :]
                if TOKEN.fullmatch(token) and token not in known:
                    stale.append(subscription)
        return stale

    def _state(
        self, book_id: int, error: Exception | None, subscription: Subscription | None = None
    ) -> None:
        """Log a book's state when it changes: a failure once (by its kind: the message
        names a new request id each time), and the recovery after it."""
        if error is None:
            state = "ok"
        else:
            status, code = getattr(error, "status", None), getattr(error, "code", None)
            state = f"{type(error).__name__} {status} {code}"
        if self._states.get(book_id) == state:
            return
        first = book_id not in self._states
        self._states[book_id] = state
        path = self._path(book_id)
        if error is not None:
            # Aurinko's message quotes the notification URL, token and all.
            log.warning(
                "webhooks: %s: no subscription (%s); polling goes on, next try in %.0f s",
                path,
                redact.redact(str(error)),
                self.config.check_interval,
            )
        elif first:
            shown = subscription.id if subscription is not None else "?"
            log.info("webhooks: %s: subscription %s active", path, shown)
        else:
            log.warning("webhooks: %s: subscribed again; notifications flow", path)

    def _path(self, book_id: int) -> str:
        try:
            return self.engine.store.book_by_id(book_id).path
        except Exception:
            return f"book {book_id}"


def _path(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).path
    except ValueError:  # not a URL at all: not one of ours either
        return ""


def _new_token() -> str:
    return secrets.token_hex(16)  # what ``store.webhooks.TOKEN`` matches


def _pick(ours: list[Subscription], recorded: str) -> Subscription | None:
    """The active subscription to keep: the recorded one if it is active, else any."""
    active = [s for s in ours if s.active]
    for subscription in active:
        if subscription.id == recorded:
            return subscription
    return active[0] if active else None
