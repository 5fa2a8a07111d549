"""The endpoint Aurinko posts to: ``POST /.bridge/webhooks/aurinko/{book token}``.

Served ahead of CardDAV and its authentication (Aurinko has no CardDAV password): the
request's signature is what authenticates it, and it is checked before anything else is
done. The token in the path says which book changed; the body is not trusted for that
(nor read at all beyond its signature: a notification only means "pull this book now").

- ``?validationToken=X`` (Aurinko checking the URL while a subscription is made): signed,
  it must be signed right and recent (else 401), and is answered 200 with exactly X as
  text/plain for a book's URL that the store knows, 404 otherwise. It is not subject to
  the replay memory: every handshake has an empty body, so two books checked in one second
  carry one signature, and an echo is no work to repeat. Unsigned (no signature header at
  all), it is answered 200 with the echo whatever the token, without looking it up: the
  answer is the same for a book's token and a made-up one, so it tells nobody which exist,
  and a handshake sent unsigned (as receivers of the real service allow for) still passes.
- A notification: 401 unless signed by the application's signing secret and recent
  (``signature.Verifier``). One whose signature was accepted before is Aurinko sending it
  again (it did not get the 200): 200 again, and no new work. Else 404 for a token no book
  here has; else the book's pull is asked for, without waiting for it, and the answer is
  200 at once.

A book is pulled at most once per ``SPACING`` seconds on notifications: one that comes
sooner after the last is folded into one more pull at the end of that time (on top of the
engine's own coalescing of a book's runs), so a burst costs two pulls.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from ..config import WebhooksConfig
from ..httpserver import read_body
from ..store import StoreError
from ..store.webhooks import WebhookStore
from ..sync import SyncEngine
from . import redact
from .signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier

log = logging.getLogger("bridge.webhooks")

PREFIX = "/.bridge/webhooks"
AURINKO = PREFIX + "/aurinko/"
MAX_BODY = 64 * 1024  # a notification is a few hundred bytes
MAX_VALIDATION_TOKEN = 4096
SPACING = 1.0  # seconds between two pulls of one book that notifications ask for

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def handles(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def notification_url(config: WebhooksConfig, token: str) -> str:
    """A book's notification URL: under ``public_url``, the server's root as Aurinko sees it."""
    return url_prefix(config) + token


def url_prefix(config: WebhooksConfig) -> str:
    return config.public_url.rstrip("/") + AURINKO


class Spacer:
    """Calls ``ask(book_id)`` at once for a book's first notification, and at most once per
    ``spacing`` seconds after it: what comes sooner is one more call at the end of the
    spacing. Calls from timers run on their own threads."""

    def __init__(self, ask: Callable[[int], None], spacing: float = SPACING) -> None:
        self._ask = ask
        self._spacing = spacing
        self._lock = threading.Lock()
        self._last: dict[int, float] = {}  # monotonic time of the book's last call
        self._timers: dict[int, threading.Timer] = {}
        self._closed = False

    def notify(self, book_id: int) -> None:
        with self._lock:
            if self._closed or book_id in self._timers:
                return  # a call is due soon: it covers this one
            wait = self._last.get(book_id, -self._spacing) + self._spacing - time.monotonic()
            if wait > 0:
                timer = threading.Timer(wait, self._fire, args=(book_id,))
                timer.daemon = True
                self._timers[book_id] = timer
                timer.start()
                return
            self._last[book_id] = time.monotonic()
        self._call(book_id)

    def _fire(self, book_id: int) -> None:
        with self._lock:
            self._timers.pop(book_id, None)
            if self._closed:
                return
            self._last[book_id] = time.monotonic()
        self._call(book_id)

    def _call(self, book_id: int) -> None:
        try:
            self._ask(book_id)
        except Exception:  # the book's next poll gets to it anyway
            log.exception("could not ask for a pull of book %d", book_id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timers = list(self._timers.values())
            self._timers.clear()
        for timer in timers:
            timer.cancel()


class WebhookEndpoint:
    """What the front (``bridge.front``) hands the requests under ``/.bridge/webhooks`` to."""

    def __init__(
        self,
        engine: SyncEngine,
        config: WebhooksConfig,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
        spacing: float = SPACING,
    ) -> None:
        self.engine = engine
        self.config = config
        self.verifier = Verifier(secret, config.max_skew, clock=clock)
        self.hooks = WebhookStore(engine.db)
        self.spacer = Spacer(self._pull, spacing)
        # Called with a book's id when Aurinko says its subscription failed (a lifecycle
        # event ``error``): ``serve`` points it at the WebhookManager's ``recheck``.
        self.on_subscription_error: Callable[[int], None] | None = None
        # Called with a book's id and the subscription's id when Aurinko says a subscription
        # is active again (lifecycle event ``active``): the WebhookManager's ``recovered``.
        self.on_subscription_active: Callable[[int, str], None] | None = None
        redact.install()

    handles = staticmethod(handles)

    def close(self) -> None:
        self.spacer.close()

    def _pull(self, book_id: int) -> None:
        self.engine.notified(self.engine.store.book_by_id(book_id))

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        token = path[len(AURINKO) :] if path.startswith(AURINKO) else ""
        if not token or "/" in token:
            return _plain(start_response, "404 Not Found", "no such webhook")
        if environ.get("REQUEST_METHOD", "").upper() != "POST":
            return _plain(
                start_response, "405 Method Not Allowed", "POST only", [("Allow", "POST")]
            )
        body = _body(environ)
        if isinstance(body, tuple):
            return _plain(start_response, *body)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        validation = query.get("validationToken")
        if validation is not None:
            return self._validation(start_response, environ, token, validation[0], body)
        return self._notification(start_response, environ, token, body)

    def _notification(
        self, start_response: StartResponse, environ: Environ, token: str, body: bytes
    ) -> Iterable[bytes]:
        timestamp, signature = environ.get(TIMESTAMP_HEADER), environ.get(SIGNATURE_HEADER)
        refused = self.verifier.authenticate(timestamp, signature, body)
        if refused is not None:
            return self._refuse(start_response, environ, refused)
        assert timestamp is not None and signature is not None  # authenticated
        if not self.verifier.remember(timestamp, signature):
            # Aurinko's retry of one it sent before (our 200 did not reach it): the pull
            # was asked for then. Answered 200 again: a refusal would count as a failed
            # delivery, and five of those make Aurinko deactivate the subscription.
            log.info("webhook: a notification came again; taken already, answered 200")
            return _plain(start_response, "200 OK", "")
        found = self._book(token)
        if isinstance(found, tuple):
            self.verifier.release(signature)
            return _plain(start_response, *found)
        self._lifecycle(found, body)
        self.spacer.notify(found)  # after any event too: changes may have gone unnotified
        return _plain(start_response, "200 OK", "")

    def _lifecycle(self, book_id: int, body: bytes) -> None:
        """OAS, Webhooks: a notification may carry ``lifecycleEvent`` (``error`` or
        ``active``, "when subscription state changes") and ``error``. On an error the
        book's subscription is checked at once (and made again if Aurinko dropped it),
        rather than at the next round of checks; on ``active`` the subscription is healthy
        again, and nothing is made anew."""
        event, error, subscription = _event(body)
        if event == "active" and not error:
            log.info(
                "webhooks: Aurinko says subscription %s of book %d is active again",
                subscription or "?",
                book_id,
            )
            if self.on_subscription_active is not None and subscription is not None:
                self.on_subscription_active(book_id, subscription)
            return
        if event != "error" and not error:
            return
        log.warning(
            "webhooks: Aurinko reports an error of book %d's subscription (%s); checking it now",
            book_id,
            error or "no reason given",
        )
        if self.on_subscription_error is not None:
            self.on_subscription_error(book_id)

    def _validation(
        self,
        start_response: StartResponse,
        environ: Environ,
        token: str,
        challenge: str,
        body: bytes,
    ) -> Iterable[bytes]:
        """Aurinko checking a notification URL: the echo of ``challenge``. Never put in
        the replay memory (see the module's docstring)."""
        timestamp, signature = environ.get(TIMESTAMP_HEADER), environ.get(SIGNATURE_HEADER)
        signed = timestamp is not None or signature is not None
        if signed:
            refused = self.verifier.authenticate(timestamp, signature, body)
            if refused is not None:
                return self._refuse(start_response, environ, refused)
        if len(challenge) > MAX_VALIDATION_TOKEN:
            return _plain(start_response, "400 Bad Request", "validation token too long")
        if signed:  # only Aurinko learns whether the token is a book's
            found = self._book(token)
            if isinstance(found, tuple):
                return _plain(start_response, *found)
            log.info("webhook: Aurinko checked the notification URL of book %d", found)
        return _plain(start_response, "200 OK", challenge, newline=False)

    def _book(self, token: str) -> int | tuple[str, str]:
        """The id of the book served here whose token this is, or the status and reason
        saying it is none (404) or cannot be told now (503)."""
        try:
            book_id = self.hooks.book_of_token(token)
        except StoreError as exc:
            log.warning("webhook: the store cannot be read: %s", exc)
            return "503 Service Unavailable", "try again later"
        if book_id is None or book_id not in self.engine.clients:
            return "404 Not Found", "no such webhook"
        return book_id

    @staticmethod
    def _refuse(start_response: StartResponse, environ: Environ, why: str) -> Iterable[bytes]:
        log.info("webhook refused (%s) from %s", why, environ.get("REMOTE_ADDR", "?"))
        return _plain(start_response, "401 Unauthorized", why)


def _event(body: bytes) -> tuple[str | None, str | None, str | None]:
    """``lifecycleEvent``, ``error`` and ``subscription`` (its id as decimal text) of a
    notification (None where absent or unreadable; the error cut short and made printable:
    it ends up in a log line)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, None, None
    if not isinstance(data, dict):
        return None, None, None
    event, error, ident = data.get("lifecycleEvent"), data.get("error"), data.get("subscription")
    words = None
    if isinstance(error, str) and error.strip():
        words = "".join(c if c.isprintable() else "?" for c in error.strip())[:200]
    # int64 in the API reference, a string in the guide's example (as ``Subscription.id``).
    subscription = None
    if isinstance(ident, int) and not isinstance(ident, bool):
        subscription = str(ident)
    elif isinstance(ident, str) and ident.isascii() and ident.isdigit():
        subscription = ident
    return (event if isinstance(event, str) else None), words, subscription


def _body(environ: Environ) -> bytes | tuple[str, str]:
    """The request's body, or the status and reason to refuse it with."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "400 Bad Request", "bad Content-Length"
    if length < 0:
        return "400 Bad Request", "bad Content-Length"
    if length > MAX_BODY:
        return "413 Request Entity Too Large", f"at most {MAX_BODY} bytes are accepted"
    return read_body(environ, length)


def _plain(
    start_response: StartResponse,
    status: str,
    text: str,
    headers: list[tuple[str, str]] | None = None,
    *,
    newline: bool = True,
) -> Iterable[bytes]:
    body = (text + ("\n" if newline and text else "")).encode("utf-8")
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            # An echo of the caller's words: never to be taken for a page by a browser.
            ("X-Content-Type-Options", "nosniff"),
            *(headers or []),
        ],
    )
    return [body]
