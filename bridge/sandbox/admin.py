"""``/_sandbox/*``: test hooks over HTTP, for a sandbox running in another process.

They take the same bearer tokens as the API and are never subject to faults, so a test
can always reach them to turn faults off again. Fault and profile settings are global to
the sandbox; ``/_sandbox/subscriptions`` shows and lapses the caller's own subscriptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from bridge.sandbox.accounts import checked_token_status, describe
from bridge.sandbox.errors import bad_request
from bridge.sandbox.faults import FaultInjector, fault_config_from_json, webhook_faults_from_json
from bridge.sandbox.profiles import ProfileState, profile_config_from_json
from bridge.sandbox.records import render
from bridge.sandbox.routing import Handler
from bridge.sandbox.store import Store
from bridge.sandbox.subscriptions import Subscriptions, parse_id, render_subscription
from bridge.sandbox.webhooks import DeliveryCounts, Notifier, WebhookFaultInjector
from bridge.sandbox.wire import Request, Response

LAPSED = "lapsed by the sandbox's test hook"


class AdminHandlers:
    def __init__(
        self,
        store: Store,
        faults: FaultInjector,
        profile: ProfileState,
        webhook_faults: WebhookFaultInjector,
        subscriptions: Subscriptions,
        notifier: Notifier,
        register_return_url: Callable[[str], list[str]],
    ) -> None:
        self._store = store
        self._faults = faults
        self._profile = profile
        self._webhook_faults = webhook_faults
        self._subscriptions = subscriptions
        self._notifier = notifier
        self._register_return_url = register_return_url

    def routes(self) -> list[tuple[str, dict[str, Handler]]]:
        return [
            ("/_sandbox/compact", {"POST": self.compact}),
            ("/_sandbox/account", {"PUT": self.put_account}),
            ("/_sandbox/faults", {"GET": self.get_faults, "PUT": self.put_faults}),
            ("/_sandbox/profile", {"GET": self.get_profile, "PUT": self.put_profile}),
            ("/_sandbox/contacts", {"GET": self.dump}),
            ("/_sandbox/webhooks", {"GET": self.get_webhooks, "PUT": self.put_webhooks}),
            ("/_sandbox/subscriptions", {"GET": self.list_subscriptions}),
            ("/_sandbox/subscriptions/{id}/lapse", {"POST": self.lapse}),
            ("/_sandbox/subscriptions/{id}/error", {"POST": self.fail}),
            ("/_sandbox/subscriptions/{id}/active", {"POST": self.recover}),
            ("/_sandbox/return-urls", {"POST": self.register}),
        ]

    def compact(self, request: Request, account: int, _: str) -> Response:
        return Response.json(200, {"floor": self._store.compact(account)})

    def put_account(self, request: Request, account: int, _: str) -> Response:
        """``{"tokenStatus": "dead"}`` kills the caller's provider grant (``invalid``: Aurinko
        still tries; ``active``: revived); the answer is ``GET /v1/account``'s."""
        body = request.json()
        try:
            if not isinstance(body, dict) or set(body) != {"tokenStatus"}:
                raise ValueError('the body must be {"tokenStatus": "active|invalid|dead"}')
            self._store.set_token_status(account, checked_token_status(body["tokenStatus"]))
        except ValueError as exc:
            raise bad_request(f"Invalid account settings: {exc}") from exc
        return Response.json(200, describe(self._store.account(account), self._profile.config.name))

    def get_faults(self, request: Request, account: int, _: str) -> Response:
        return Response.json(200, self._faults.describe())

    def put_faults(self, request: Request, account: int, _: str) -> Response:
        """Replace all fault settings; keys left out take their defaults (i.e. off)."""
        try:
            config = fault_config_from_json(request.json())
        except ValueError as exc:
            raise bad_request(f"Invalid fault settings: {exc}") from exc
        self._faults.replace(config)
        return Response.json(200, self._faults.describe())

    def get_profile(self, request: Request, account: int, _: str) -> Response:
        return Response.json(200, asdict(self._profile.config))

    def put_profile(self, request: Request, account: int, _: str) -> Response:
        """Replace the profile and every switch; keys left out take their defaults."""
        try:
            self._profile.config = profile_config_from_json(request.json())
        except ValueError as exc:
            raise bad_request(f"Invalid profile settings: {exc}") from exc
        return Response.json(200, asdict(self._profile.config))

    def dump(self, request: Request, account: int, _: str) -> Response:
        rows = self._store.live_after(account, "", None)
        weak = self._profile.config.weak_etags
        return Response.json(200, {"contacts": [render(row, True, weak) for row in rows]})

    def get_webhooks(self, request: Request, account: int, _: str) -> Response:
        return Response.json(200, self._webhook_faults.describe())

    def put_webhooks(self, request: Request, account: int, _: str) -> Response:
        """Replace all webhook fault settings; keys left out take their defaults (off)."""
        try:
            faults = webhook_faults_from_json(request.json())
        except ValueError as exc:
            raise bad_request(f"Invalid webhook fault settings: {exc}") from exc
        self._webhook_faults.replace(faults)
        return Response.json(200, self._webhook_faults.describe())

    def list_subscriptions(self, request: Request, account: int, _: str) -> Response:
        """The caller's subscriptions, inactive ones too, each with its delivery counts."""
        counts = self._notifier.counts()
        listed = [
            {**render_subscription(row), "deliveries": asdict(counts.get(row.id, DeliveryCounts()))}
            for row in self._store.subscriptions(account)
        ]
        return Response.json(200, {"subscriptions": listed})

    def lapse(self, request: Request, account: int, ident: str) -> Response:
        """Deactivate one of the caller's subscriptions, as repeated failures would."""
        row = self._subscriptions.get(account, parse_id(ident))
        return Response.json(200, render_subscription(self._subscriptions.lapse(row.id, LAPSED)))

    def fail(self, request: Request, account: int, ident: str) -> Response:
        """Break one of the caller's subscriptions on the provider's side: deactivated, and
        its URL sent a lifecycle ``error`` event. Body: ``{"error": "why"}`` (optional)."""
        body = request.json() if request.body else {}
        error = body.get("error") if isinstance(body, dict) else None
        if error is not None and not isinstance(error, str):
            raise bad_request("error must be a string")
        row = self._subscriptions.get(account, parse_id(ident))
        failed = self._subscriptions.fail(row.id, error or "the provider's subscription failed")
        return Response.json(200, render_subscription(failed))

    def recover(self, request: Request, account: int, ident: str) -> Response:
        """One of the caller's inactive subscriptions comes back: its URL validated again,
        active, and sent a lifecycle ``active`` event."""
        row = self._subscriptions.get(account, parse_id(ident))
        return Response.json(200, render_subscription(self._subscriptions.recover(row.id)))

    def register(self, request: Request, account: int, _: str) -> Response:
        """Register a return URL for the OAuth application (the portal's settings page).
        Body: ``{"url": "http://127.0.0.1:8765/callback"}``; the answer lists them all."""
        body = request.json()
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str):
            raise bad_request('the body must be {"url": "<return URL>"}')
        try:
            registered = self._register_return_url(url)
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        return Response.json(200, {"returnUrls": registered})
