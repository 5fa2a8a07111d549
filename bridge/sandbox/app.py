"""``SandboxApp``: the WSGI callable, plus the Python test hooks."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from types import TracebackType
from typing import Any

from bridge.sandbox import returnurls
from bridge.sandbox.accounts import AccountHandlers, checked_token_status, refuse_without_grant
from bridge.sandbox.admin import AdminHandlers
from bridge.sandbox.auth import AuthHandler, AuthHandlers, redact
from bridge.sandbox.config import FaultConfig, SandboxConfig, WebhookFaults
from bridge.sandbox.contacts import ContactService
from bridge.sandbox.errors import ApiError, ConnectionDropped
from bridge.sandbox.faults import FaultInjector
from bridge.sandbox.handlers import ApiHandlers
from bridge.sandbox.profiles import ProfileConfig, ProfileState
from bridge.sandbox.records import render, rfc3339
from bridge.sandbox.routing import Handler, Router
from bridge.sandbox.seed import load_seed
from bridge.sandbox.store import Store, token_hash
from bridge.sandbox.subscriptions import SubscriptionHandlers, Subscriptions, render_subscription
from bridge.sandbox.sync import SyncService
from bridge.sandbox.tokens import TokenCodec
from bridge.sandbox.webhooks import DeliveryCounts, Notifier, WebhookFaultInjector
from bridge.sandbox.wire import Request, Response

logger = logging.getLogger("bridge.sandbox")

StartResponse = Callable[..., Any]


class SandboxApp:
    """A WSGI app serving the Aurinko Contacts API from SQLite. Thread-safe.

    Test hooks: ``compact_history``, ``set_faults``/``faults``, ``set_profile``/``profile``,
    ``set_clock``, ``dump``, and for webhooks ``subscriptions``, ``deliveries``,
    ``wait_for_deliveries``, ``lapse_subscription`` and ``set_webhook_faults``/
    ``webhook_faults``. Raises ``SeedError`` (a ``ValueError``) for a bad seed file and
    ``ValueError`` for a bad configuration.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._clock: Callable[[], float] | None = None
        self._handled: Counter[tuple[str, str]] = Counter()
        self._handled_lock = threading.Lock()
        seed = load_seed(config.seed_path) if config.seed_path else None
        self._store = Store(config.db_path)
        try:
            # Accounts are looked up in the store on every request, so that those the OAuth
            # flow makes (and deletes) at run time count as much as configured ones.
            for token in config.tokens:
                self._store.ensure_account(token, rfc3339(self.now()))
            self._faults = FaultInjector(config.faults)
            self._profile = ProfileState(config.profile)
            self._webhook_faults = WebhookFaultInjector(config.webhook_faults)
            self._notifier = Notifier(self._store, self.now, config, self._webhook_faults)
            self._subscriptions = Subscriptions(self._store, self._notifier, config, self.now)
            self._contacts = ContactService(
                self._store, self.now, self._profile, self._notifier.changed
            )
            self._sync = SyncService(
                self._store, TokenCodec(self._store.secret()), self.now,
                config.page_size, config.token_ttl, self._profile,
            )  # fmt: skip
            api = ApiHandlers(self._store, self._contacts, self._sync, self._faults, self._profile)
            accounts = AccountHandlers(self._store, self._profile, self.now)
            webhooks = SubscriptionHandlers(self._subscriptions)
            self._api: Router[Handler] = Router(
                api.routes() + accounts.routes() + webhooks.routes()
            )
            self._return_urls = returnurls.Registered(config.return_urls)
            self._admin: Router[Handler] = Router(
                AdminHandlers(
                    self._store, self._faults, self._profile, self._webhook_faults,
                    self._subscriptions, self._notifier, self.register_return_url,
                ).routes()
            )  # fmt: skip
            self._auth: Router[AuthHandler] = Router(
                AuthHandlers(config, self._store, self.now, self._return_urls).routes()
            )
            if seed is not None:
                self._seed(seed)
        except BaseException:
            if hasattr(self, "_notifier"):
                self._notifier.close()
            self._store.close()
            raise

    # --- lifecycle and hooks -------------------------------------------------------------

    def close(self) -> None:
        self._notifier.close()
        self._store.close()

    def __enter__(self) -> SandboxApp:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def now(self) -> float:
        """The sandbox's clock (epoch seconds): ``time.time`` unless overridden."""
        return (self._clock or time.time)()

    def set_clock(self, clock: Callable[[], float] | None) -> None:
        """Override the clock used for timestamps and token ages (None restores it)."""
        self._clock = clock

    @property
    def faults(self) -> FaultConfig:
        return self._faults.config

    def set_faults(self, faults: FaultConfig | None = None, /, **changes: Any) -> FaultConfig:
        """Replace the fault settings, or change some of them by keyword.

        ``set_faults(FaultConfig(error_rate=1))`` replaces; ``set_faults(latency=0.2)``
        keeps the rest. Either way the RNG is reseeded and the not-ready count restarts.
        """
        config = replace(faults or self._faults.config, **changes)
        self._faults.replace(config)
        return config

    @property
    def profile(self) -> ProfileConfig:
        return self._profile.config

    def set_profile(self, profile: ProfileConfig | None = None, /, **changes: Any) -> ProfileConfig:
        """Replace the profile settings, or change some of them by keyword.

        ``set_profile(ProfileConfig("google"))`` replaces; ``set_profile(weak_etags=True)``
        keeps the rest. Takes effect on the next request.
        """
        config = replace(profile or self._profile.config, **changes)
        self._profile.config = config
        return config

    def set_token_status(self, token: str, status: str) -> None:
        """Kill (``dead``, ``invalid``) or revive (``active``) the provider grant behind the
        token's account, as a password change or an admin's revocation would: contact calls
        answer 401 while it is not active; ``GET /v1/account`` says which."""
        self._store.set_token_status(self._account(token), checked_token_status(status))

    def compact_history(self, token: str | None = None) -> None:
        """Drop tombstones and raise the floor, for one account or (None) for all."""
        accounts = [self._account(token)] if token is not None else self._store.live_accounts()
        for account in accounts:
            self._store.compact(account)

    def handled(self, host: str | None = None) -> dict[str, int]:
        """How many API requests reached their handler (faults left out), by method and
        route: ``{"POST /v1/contacts": 3, "PATCH /v1/contacts/{id}": 1, ...}``, of every
        client or of those that named ``host`` in their Host header (two clients given two
        names of the sandbox tell apart): a test counts the writes each client sent."""
        with self._handled_lock:
            counted = Counter[str]()
            for (named, route), count in self._handled.items():
                if host is None or named == host:
                    counted[route] += count
            return dict(counted)

    @property
    def webhook_faults(self) -> WebhookFaults:
        return self._webhook_faults.config

    def set_webhook_faults(
        self, faults: WebhookFaults | None = None, /, **changes: Any
    ) -> WebhookFaults:
        """Replace the notification faults, or change some of them by keyword, like
        ``set_faults``: ``set_webhook_faults(drop_rate=1)``. The RNG is reseeded."""
        config = replace(faults or self._webhook_faults.config, **changes)
        self._webhook_faults.replace(config)
        return config

    def subscriptions(self, token: str) -> list[dict[str, Any]]:
        """The token's webhook subscriptions, inactive ones too (``SubscriptionResponse``)."""
        rows = self._store.subscriptions(self._account(token))
        return [render_subscription(row) for row in rows]

    def deliveries(self) -> dict[int, DeliveryCounts]:
        """Per subscription id: what its notifications met since start (``DeliveryCounts``:
        ``notifications``, ``attempts``, ``delivered``, ``failed``, ``dropped``,
        ``duplicated``). Subscriptions that never had a notification are absent."""
        return self._notifier.counts()

    def wait_for_deliveries(self, timeout: float = 5.0) -> bool:
        """Wait until no notification is queued, on the wire or waiting for a retry; False
        if that did not happen within ``timeout`` seconds."""
        return self._notifier.wait_idle(timeout)

    def lapse_subscription(
        self, ident: int, description: str = "lapsed by the sandbox's test hook"
    ) -> dict[str, Any]:
        """Deactivate a subscription as repeated delivery failures would (``active: false``,
        ``failSince``, ``failDescription``): it gets nothing more until deleted and created
        again. ``ValueError`` for an unknown id."""
        try:
            return render_subscription(self._subscriptions.lapse(ident, description))
        except ApiError as error:
            raise ValueError(f"unknown subscription {ident}") from error

    def fail_subscription(self, ident: int, error: str) -> dict[str, Any]:
        """The provider side of a subscription broke: it is deactivated (``failDescription``
        ``error``) and its URL is sent a lifecycle ``error`` event (``lifecycleEvent:
        "error"``, ``error``), once. ``ValueError`` for an unknown id."""
        try:
            return render_subscription(self._subscriptions.fail(ident, error))
        except ApiError as exc:
            raise ValueError(f"unknown subscription {ident}") from exc

    def recover_subscription(self, ident: int) -> dict[str, Any]:
        """An inactive subscription comes back: its URL passes the validation handshake
        again, it is active with no failure, and its URL is sent a lifecycle ``active``
        event. ``ValueError`` for an unknown id; ``ApiError`` 400 when the handshake fails."""
        try:
            return render_subscription(self._subscriptions.recover(ident))
        except ApiError as exc:
            if exc.status == 404:
                raise ValueError(f"unknown subscription {ident}") from exc
            raise

    def register_return_url(self, url: str) -> list[str]:
        """Register ``url`` for the OAuth application, as its portal settings page would;
        all registered ones. ``ValueError`` without an application or for a URL that
        cannot be a return URL."""
        if self.config.client_id is None:
            raise ValueError("return URLs need an OAuth application (client_id, client_secret)")
        self._return_urls.add(url)
        return self._return_urls.all()

    def dump(self, token: str) -> list[dict[str, Any]]:
        """Every live contact of the token's account, photos included, ordered by id."""
        rows = self._store.live_after(self._account(token), "", None)
        return [render(row, True, self._profile.config.weak_etags) for row in rows]

    def _account(self, token: str) -> int:
        account = self._store.account_by_token(token_hash(token))
        if account is None:
            raise ValueError("unknown token")
        return account

    def _seed(self, contacts: list[Any]) -> None:
        """Fill the first account once, and only while it has never held a contact."""
        account = self._account(self.config.tokens[0])
        with self._store.transaction():
            if self._store.is_seeded(account):
                return
            if not self._store.has_any_contact(account):
                for contact in contacts:
                    self._contacts.create(account, contact)
                logger.info("seeded %d contact%s", len(contacts), "" if len(contacts) == 1 else "s")
            self._store.mark_seeded(account)

    # --- WSGI ----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        try:
            request = Request.from_environ(environ, request_id)
            response = self._dispatch(request)
        except ApiError as error:
            response = Response.error(error, request_id)
        except ConnectionDropped:
            raise
        except Exception:
            # Never a traceback on the wire: log it, answer the envelope.
            logger.exception("internal error, request %s", request_id)
            internal = ApiError(500, "internalError", "Internal sandbox error")
            response = Response.error(internal, request_id)
        logger.debug(
            "%s %s -> %d",
            environ.get("REQUEST_METHOD"),
            redact(str(environ.get("PATH_INFO", ""))),
            response.status,
        )
        start_response(response.status_line(), response.all_headers())
        return [response.body]

    def _dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_sandbox/"):
            handler, ident = self._admin.resolve(request.method, request.path)
            return handler(request, self._authenticate(request), ident)
        if request.path.startswith("/v1/auth/"):
            # Never faulted: a test of the flow must not depend on the fault RNG, and the
            # real flow runs in a browser, far from the API calls that faults imitate.
            auth_handler, ident = self._auth.resolve(request.method, request.path)
            return auth_handler(request, ident)
        if request.path == "/v1" or request.path.startswith("/v1/"):
            return self._faulted(request)
        raise ApiError(404, "notFound", f"No such endpoint: {request.path}")

    def _faulted(self, request: Request) -> Response:
        self._faults.delay()
        decision = self._faults.decide()
        if decision.drop_before:
            raise ConnectionDropped(after_acting=False)
        if decision.error is not None:
            raise decision.error
        handler, ident = self._api.resolve(request.method, request.path)
        route = request.path.replace(ident, "{id}") if ident else request.path
        host = request.headers.get("host", "").rsplit(":", 1)[0]
        with self._handled_lock:
            self._handled[(host, f"{request.method} {route}")] += 1
        try:
            account = self._authenticate(request)
            if request.path.startswith("/v1/contacts"):
                refuse_without_grant(self._store.token_status(account))
            response = handler(request, account, ident)
        except ApiError as error:
            response = Response.error(error, request.request_id)
        if decision.drop_after:
            raise ConnectionDropped(after_acting=True)
        return response

    def _authenticate(self, request: Request) -> int:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "Authorization: Bearer <token> is required")
        account = self._store.account_by_token(token_hash(token))
        if account is None:
            logger.debug("unknown bearer token %s…", token_hash(token)[:8])
            raise ApiError(401, "token.dead", "Not authorized")
        return account
