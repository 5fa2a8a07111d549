"""Outgoing webhooks: signing, the HTTP POST, notification faults and the delivery threads.

What goes on the wire (see docs/aurinko-contract-notes.md, "Webhooks", for the sources):

- Every request the sandbox sends to a notification URL (the validation handshake and each
  notification) carries ``X-Aurinko-Request-Timestamp`` (Unix seconds, the sandbox's clock)
  and ``X-Aurinko-Signature``: the lowercase hex HMAC-SHA256, keyed with the signing
  secret, of ``v0:{timestamp}:{raw body}`` (Aurinko's "Authentication" page gives the base
  string and the algorithm but not the encoding; hex is what clients of the real service
  compare against).
- A notification is ``{"subscription": <id>, "resource": "/contacts", "accountId": <id>,
  "payloads": [{"id": "<contact id>", "changeType": "created"|"updated"|"deleted"}]}``.
  This is our reading of Aurinko's payload: the "Webhooks API" page shows ``subscription``,
  ``resource``, ``accountId`` and ``payloads`` items with an ``id``; ``changeType`` and its
  three values are what receivers of the real service read. No ``attributes`` are sent.

Delivery runs on one thread per subscription with something to send, never in an API
request: changes that arrive while a notification is in flight wait, in order, and go out
together in the next one (at most ``MAX_BATCH`` payloads each). A failed attempt
(connection refused, timeout, an answer other than 2xx) is retried with the same body,
timestamp and signature after ``webhook_retry_delay`` seconds, doubling each time, until it
is delivered or ``webhook_max_failures`` attempts in a row have failed: then the
subscription is deactivated (``active: false``, ``failSince``, ``failDescription``) and gets
nothing more until it is deleted and created again. Notifications still queued when the
sandbox stops are lost (the queue lives in memory); the subscriptions themselves persist.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from bridge.sandbox.config import MAX_RETRY_DELAY, SandboxConfig, WebhookFaults
from bridge.sandbox.records import rfc3339
from bridge.sandbox.store import Store, SubscriptionRow

logger = logging.getLogger("bridge.sandbox")

RESOURCE = "/contacts"
MAX_BATCH = 100
# Enough for any validation token; a receiver's answer beyond this is not read.
_MAX_ANSWER = 64 * 1024
_USER_AGENT = "aurinko-sandbox-webhooks"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Aurinko-Signature``: hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, timestamp: str, body: bytes, content_type: str, bad: bool = False
) -> dict[str, str]:
    """The headers of one request; ``bad`` signs with a wrong key (a fault)."""
    key = secret + "\x00not-the-signing-secret" if bad else secret
    return {
        "Content-Type": content_type,
        "User-Agent": _USER_AGENT,
        "X-Aurinko-Request-Timestamp": timestamp,
        "X-Aurinko-Signature": sign(key, timestamp, body),
    }


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST ``body`` to ``url``: the answer's status and (start of its) body.

    No proxy, no redirects followed; ``timeout`` bounds connecting and each read. Raises
    ``OSError`` or ``http.client.HTTPException`` when no answer comes.
    """
    parts = urlsplit(url)
    kind = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read(_MAX_ANSWER)
    finally:
        connection.close()


def describe_failure(exc: BaseException, timeout: float) -> str:
    """A short reason for a request that got no answer, fit for ``failDescription``."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, HTTPException):
        return f"bad HTTP answer ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"connection failed ({exc.strerror})"
    return f"connection failed ({type(exc).__name__})"


class WebhookFaultInjector:
    """Thread-safe holder of the current ``WebhookFaults`` and their RNG."""

    def __init__(self, faults: WebhookFaults) -> None:
        self._lock = threading.Lock()
        self._config = faults
        self._rng = random.Random(faults.seed)

    @property
    def config(self) -> WebhookFaults:
        return self._config

    def replace(self, faults: WebhookFaults) -> None:
        """Swap the settings; the RNG is reseeded."""
        with self._lock:
            self._config = faults
            self._rng = random.Random(faults.seed)

    def describe(self) -> dict[str, object]:
        return asdict(self._config)

    def draw_notification(self) -> tuple[bool, bool]:
        """(drop it, send it twice) for one notification; two draws, in that order."""
        with self._lock:
            drop, duplicate = self._rng.random(), self._rng.random()
            config = self._config
        return drop < config.drop_rate, duplicate < config.duplicate_rate

    def draw_bad_signature(self) -> bool:
        with self._lock:
            return self._rng.random() < self._config.bad_signature_rate


@dataclass(frozen=True)
class DeliveryCounts:
    """What happened to one subscription's notifications since the sandbox started.

    ``notifications``: notifications made (one per batch of changes); ``attempts``: HTTP
    requests sent (retries and duplicates included); ``delivered``: requests answered 2xx;
    ``failed``: requests that were not; ``dropped``: notifications never sent (the
    ``drop_rate`` fault); ``duplicated``: notifications sent twice (``duplicate_rate``).
    """

    notifications: int = 0
    attempts: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    duplicated: int = 0


class _Channel:
    """One active subscription's queue and delivery state; guarded by the notifier's lock."""

    def __init__(self, row: SubscriptionRow) -> None:
        self.id = row.id
        self.account = row.account
        self.url = row.notification_url
        self.failures = row.failures
        self.fail_since = row.fail_since
        self.pending: list[dict[str, str]] = []
        self.busy = False
        self.alive = True


class Notifier:
    """Sends change notifications of contacts to the active subscriptions of their account.

    Lock order: the notifier's lock is never held while calling the store (whose lock a
    seeding transaction holds while it reports changes).
    """

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        config: SandboxConfig,
        faults: WebhookFaultInjector,
    ) -> None:
        self._store = store
        self._clock = clock
        self._secret = config.signing_secret
        self._timeout = config.webhook_timeout
        self._max_failures = config.webhook_max_failures
        self._retry_delay = config.webhook_retry_delay
        self._faults = faults
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._channels: dict[int, _Channel] = {}
        self._counts: dict[int, DeliveryCounts] = {}
        self._threads: list[threading.Thread] = []
        self._running = 0  # delivery threads under way, of live or removed subscriptions
        self._warned = False
        for row in store.subscriptions(None, include_inactive=False):
            self._channels[row.id] = _Channel(row)

    # --- subscriptions come and go ----------------------------------------------------

    def add(self, row: SubscriptionRow) -> None:
        with self._lock:
            self._channels[row.id] = _Channel(row)

    def remove(self, ident: int) -> None:
        """No more deliveries for ``ident`` (deleted or deactivated); its queue is dropped.
        A request already on the wire is not called back."""
        with self._lock:
            channel = self._channels.pop(ident, None)
            if channel is not None:
                channel.alive = False
                channel.pending.clear()

    # --- hooks -------------------------------------------------------------------------

    def counts(self) -> dict[int, DeliveryCounts]:
        with self._lock:
            return dict(self._counts)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued, in flight or waiting for a retry; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    def close(self, wait: float = 1.0) -> None:
        """Stop every delivery thread (waiting at most ``wait`` seconds for them)."""
        self._stop.set()
        with self._lock:
            for channel in self._channels.values():
                channel.alive = False
                channel.pending.clear()
            threads = list(self._threads)
        deadline = time.monotonic() + wait
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def lifecycle(self, row: SubscriptionRow, event: str, error: str | None) -> None:
        """Tell the subscription's URL that its state changed (OAS, Webhooks: ``lifecycleEvent``
        ``error`` or ``active``, with ``error`` "if any"). Sent once from a thread of its own,
        not retried and not counted: how Aurinko retries these is not documented."""
        if self._secret is None or self._stop.is_set():
            return
        notification: dict[str, Any] = {
            "subscription": row.id,
            "resource": RESOURCE,
            "accountId": row.account,
            "lifecycleEvent": event,
            "payloads": [],
        }
        if error:
            notification["error"] = error
        body = json.dumps(notification, ensure_ascii=False, separators=(",", ":")).encode()
        headers = signed_headers(
            self._secret, str(int(self._clock())), body, "application/json", False
        )

        def send() -> None:
            try:
                post(row.notification_url, body, headers, self._timeout)
            except (OSError, HTTPException) as exc:
                logger.debug("lifecycle event of subscription %d not delivered: %s", row.id, exc)

        thread = threading.Thread(target=send, name=f"aurinko-sandbox-lifecycle-{row.id}")
        thread.daemon = True
        thread.start()

    # --- changes in, notifications out -------------------------------------------------

    def changed(self, account: int, contact_id: str, change_type: str) -> None:
        """A contact of ``account`` was created, updated or deleted (after the commit)."""
        with self._lock:
            channels = [c for c in self._channels.values() if c.account == account]
            if not channels or self._stop.is_set():
                return
            if self._secret is None:
                # Subscriptions persist; a sandbox restarted without the secret cannot sign.
                if not self._warned:
                    logger.warning("webhook notifications not sent: no signing secret")
                    self._warned = True
                return
            for channel in channels:
                channel.pending.append({"id": contact_id, "changeType": change_type})
                if not channel.busy:
                    channel.busy = True
                    self._start(channel)

    def _start(self, channel: _Channel) -> None:
        thread = threading.Thread(
            target=self._run, args=(channel,), name=f"aurinko-sandbox-webhook-{channel.id}",
            daemon=True,
        )  # fmt: skip
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        self._running += 1
        thread.start()

    def _count(self, ident: int, **more: int) -> None:
        """Add to a subscription's counts; the caller holds the lock."""
        counts = self._counts.get(ident, DeliveryCounts())
        changes = {key: getattr(counts, key) + value for key, value in more.items()}
        self._counts[ident] = replace(counts, **changes)

    def _run(self, channel: _Channel) -> None:
        while True:
            with self._idle:
                if not channel.alive or not channel.pending:
                    # Decided under the lock that ``changed`` takes: a change reported
                    # after this starts a new thread, none is left waiting in the queue.
                    self._finish(channel)
                    return
                batch = channel.pending[:MAX_BATCH]
                del channel.pending[:MAX_BATCH]
            try:
                self._notify(channel, batch)
            except Exception as exc:
                if isinstance(exc, sqlite3.Error):
                    # The sandbox closed its store under a delivery: it is stopping.
                    logger.debug("webhook delivery of subscription %d stopped", channel.id)
                else:
                    logger.exception("webhook delivery of subscription %d failed", channel.id)
                with self._idle:
                    self._finish(channel)
                return

    def _finish(self, channel: _Channel) -> None:
        """A delivery thread ends; the caller holds the lock."""
        channel.busy = False
        self._running -= 1
        self._idle.notify_all()

    def _notify(self, channel: _Channel, payloads: list[dict[str, str]]) -> None:
        assert self._secret is not None
        notification: dict[str, Any] = {
            "subscription": channel.id,
            "resource": RESOURCE,
            "accountId": channel.account,
            "payloads": payloads,
        }
        # Compact, as a JSON library on a server writes it: a receiver must verify the
        # raw bytes, not a re-serialization.
        body = json.dumps(notification, ensure_ascii=False, separators=(",", ":")).encode()
        delay = self._faults.config.delay
        if delay > 0 and self._stop.wait(delay):
            return
        drop, duplicate = self._faults.draw_notification()
        with self._lock:
            self._count(channel.id, notifications=1, dropped=int(drop), duplicated=int(duplicate))
        if drop:
            logger.debug("webhook notification of subscription %d dropped (fault)", channel.id)
            return
        timestamp = str(int(self._clock()))
        for _ in range(2 if duplicate else 1):
            if not self._send(channel, body, timestamp):
                return

    def _send(self, channel: _Channel, body: bytes, timestamp: str) -> bool:
        """One notification, retried until delivered (True) or given up (False)."""
        assert self._secret is not None
        attempt = 0
        while True:
            with self._lock:
                if not channel.alive:
                    return False
            bad = self._faults.draw_bad_signature()
            headers = signed_headers(self._secret, timestamp, body, "application/json", bad)
            problem: str | None = None
            try:
                status, _ = post(channel.url, body, headers, self._timeout)
                if not 200 <= status < 300:
                    problem = f"notification answered HTTP {status}"
            except (OSError, HTTPException) as exc:
                problem = describe_failure(exc, self._timeout)
            if self._record(channel, problem):
                return True
            with self._lock:
                if not channel.alive:
                    return False
            wait = min(self._retry_delay * 2**attempt, MAX_RETRY_DELAY)
            attempt += 1
            if self._stop.wait(wait):
                return False

    def _record(self, channel: _Channel, problem: str | None) -> bool:
        """Count an attempt and keep its outcome; True if it was delivered."""
        with self._lock:
            if problem is None:
                self._count(channel.id, attempts=1, delivered=1)
                recovered = channel.failures > 0
                channel.failures, channel.fail_since = 0, None
            else:
                self._count(channel.id, attempts=1, failed=1)
                channel.failures += 1
                channel.fail_since = channel.fail_since or rfc3339(self._clock())
            failures, since = channel.failures, channel.fail_since
            lapsed = failures >= self._max_failures
        if problem is None:
            if recovered:
                self._store.record_delivery(channel.id, 0, None, None, True)
            return True
        logger.info(
            "webhook notification of subscription %d failed (%d in a row): %s",
            channel.id, failures, problem,
        )  # fmt: skip
        if lapsed:
            problem = f"{problem}; deactivated after {failures} failed attempts in a row"
            self.remove(channel.id)
        self._store.record_delivery(channel.id, failures, since, problem, not lapsed)
        return False
