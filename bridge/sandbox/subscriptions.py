"""``/v1/subscriptions``: Aurinko's Webhooks API, for the ``/contacts`` resource only.

``POST`` validates the notification URL first, as Aurinko does: ``POST
{notificationUrl}?validationToken=<random>`` (``text/plain; charset=utf-8``, an empty body,
signed like a notification), which must answer 200 with exactly the token as its body
within ``webhook_timeout``; otherwise 400 ``subscription.validationFailed`` says why and
nothing is stored. Success answers 200 ``SubscriptionResponse``; ``GET`` answers a
``SubscriptionsPage`` (``limit``, ``offset``, ``includeInactive``, default false, as in the
OAS); ``GET`` and ``DELETE`` of ``/v1/subscriptions/{id}`` answer 404 ``notFound`` for an
unknown id or another account's. ``failSince`` and ``failDescription`` are absent while
there is no failure (never ``null``), like every absent field of the sandbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from http.client import HTTPException
from typing import Any

from bridge.sandbox import returnurls
from bridge.sandbox.config import SandboxConfig
from bridge.sandbox.errors import ApiError, bad_request, invalid_field
from bridge.sandbox.records import rfc3339
from bridge.sandbox.routing import Handler
from bridge.sandbox.store import Store, SubscriptionRow
from bridge.sandbox.webhooks import RESOURCE, Notifier, describe_failure, post, signed_headers
from bridge.sandbox.wire import Request, Response

# ``DataConsumerFilter`` of the OAS: its one value concerns mail; accepted, stored, echoed.
FILTERS = ("withoutDrafts",)
DEFAULT_LIMIT = 50


def render_subscription(row: SubscriptionRow) -> dict[str, Any]:
    """``SubscriptionResponse``."""
    answer: dict[str, Any] = {
        "id": row.id,
        "resource": row.resource,
        "notificationUrl": row.notification_url,
        "active": row.active,
        "disabledByBilling": False,
        "filters": list(row.filters),
    }
    if row.fail_since is not None:
        answer["failSince"] = row.fail_since
    if row.fail_description is not None:
        answer["failDescription"] = row.fail_description
    return answer


def subscription_not_found() -> ApiError:
    return ApiError(404, "notFound", "Subscription not found")


def validation_failed(reason: str) -> ApiError:
    return ApiError(
        400, "subscription.validationFailed", f"Notification URL validation failed: {reason}"
    )


def _parse_request(body: object) -> tuple[str, str, list[str]]:
    """``SubscriptionRequest``: (resource, notificationUrl, filters); 400 naming the field."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    resource = body.get("resource")
    if not isinstance(resource, str) or not resource:
        raise invalid_field("resource", "a resource such as '/contacts' is required")
    if resource != RESOURCE:
        raise invalid_field("resource", f"the sandbox supports only '{RESOURCE}'")
    url = body.get("notificationUrl")
    if not isinstance(url, str) or not url:
        raise invalid_field("notificationUrl", "a URL is required")
    problem = returnurls.problem(url)
    if problem is not None:
        raise invalid_field("notificationUrl", problem)
    filters = body.get("filters")
    if filters is None:
        filters = []
    if not isinstance(filters, list):
        raise invalid_field("filters", "must be a list")
    for index, value in enumerate(filters):
        if value not in FILTERS:
            raise invalid_field(f"filters[{index}]", f"must be one of {', '.join(FILTERS)}")
    return resource, url, list(filters)


def _count_param(request: Request, name: str, default: int, least: int) -> int:
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid query parameter '{name}': not an integer") from exc
    if value < least:
        raise bad_request(f"Invalid query parameter '{name}': must be >= {least}")
    return value


def parse_id(text: str) -> int:
    """The ``{id}`` path segment (``int64`` in the OAS); anything else is unknown: 404."""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise subscription_not_found()
    return int(text)


class Subscriptions:
    """Subscriptions of accounts: what the handlers, the admin hooks and the app share."""

    def __init__(
        self, store: Store, notifier: Notifier, config: SandboxConfig, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._config = config
        self._clock = clock

    def subscribe(self, account: int, body: object) -> SubscriptionRow:
        resource, url, filters = _parse_request(body)
        if self._config.signing_secret is None:
            raise bad_request(
                "The sandbox has no signing secret, so it cannot sign webhook notifications: "
                "start it with a signing secret (--signing-secret) to accept subscriptions"
            )
        self._validate(url, self._config.signing_secret)
        row = self._store.add_subscription(account, resource, url, filters, rfc3339(self._clock()))
        self._notifier.add(row)
        return row

    def _validate(self, url: str, secret: str) -> None:
        """The handshake; raises ``validation_failed`` naming the reason. No store lock is
        held meanwhile: the receiver may call the sandbox before it answers."""
        token = str(uuid.uuid4())
        target = returnurls.with_query(url, [("validationToken", token)])
        body = b""
        timestamp = str(int(self._clock()))
        headers = signed_headers(secret, timestamp, body, "text/plain; charset=utf-8")
        timeout = self._config.webhook_timeout
        try:
            status, answer = post(target, body, headers, timeout)
        except (OSError, HTTPException) as exc:
            reason = describe_failure(exc, timeout)
            raise validation_failed(f"{url} could not be reached: {reason}") from exc
        if status != 200:
            raise validation_failed(f"{url} answered HTTP {status}, not 200")
        if answer != token.encode("ascii"):
            raise validation_failed(
                f"{url} did not answer with the validation token alone as its body"
            )

    def page(self, account: int, offset: int, limit: int, inactive: bool) -> dict[str, Any]:
        rows = self._store.subscriptions(account, include_inactive=inactive)
        records = [render_subscription(row) for row in rows[offset : offset + limit]]
        return {
            "records": records,
            "offset": offset,
            "totalSize": len(rows),
            "done": offset + len(records) >= len(rows),
        }

    def get(self, account: int, ident: int) -> SubscriptionRow:
        row = self._store.subscription(ident)
        if row is None or row.account != account:
            raise subscription_not_found()
        return row

    def delete(self, account: int, ident: int) -> None:
        # Out of the notifier first: no attempt starts after the answer.
        row = self.get(account, ident)
        self._notifier.remove(row.id)
        if not self._store.delete_subscription(account, ident):
            raise subscription_not_found()

    def lapse(self, ident: int, description: str) -> SubscriptionRow:
        """Deactivate an active subscription as repeated failures would (a test hook)."""
        self._notifier.remove(ident)
        row = self._store.subscription(ident)
        if row is None:
            raise subscription_not_found()
        since = row.fail_since or rfc3339(self._clock())
        self._store.record_delivery(ident, row.failures, since, description, False)
        updated = self._store.subscription(ident)
        assert updated is not None
        return updated

    def fail(self, ident: int, error: str) -> SubscriptionRow:
        """The provider side of a subscription broke (a test hook): it is deactivated with
        ``error`` as its ``failDescription``, and its URL gets a lifecycle ``error`` event."""
        row = self.lapse(ident, error)
        self._notifier.lifecycle(row, "error", error)
        return row

    def recover(self, ident: int) -> SubscriptionRow:
        """An inactive subscription comes back (a test hook: the provider's side recovered,
        or the application's owner re-activated it). OAS, Webhooks: ``lifecycleEvent``
        ``active`` "when subscription state changes". Our guess at the rest: its URL must
        pass the validation handshake again first (else 400
        ``subscription.validationFailed`` and it stays inactive); then it is active, its
        failure cleared, and its URL gets one ``active`` event. An active one: unchanged,
        no event."""
        row = self._store.subscription(ident)
        if row is None:
            raise subscription_not_found()
        if row.active:
            return row
        if self._config.signing_secret is None:
            raise bad_request("The sandbox has no signing secret: it cannot validate the URL")
        self._validate(row.notification_url, self._config.signing_secret)
        self._store.reactivate(ident)
        updated = self._store.subscription(ident)
        assert updated is not None
        self._notifier.add(updated)
        self._notifier.lifecycle(updated, "active", None)
        return updated


class SubscriptionHandlers:
    def __init__(self, subscriptions: Subscriptions) -> None:
        self._subscriptions = subscriptions

    def routes(self) -> list[tuple[str, dict[str, Handler]]]:
        return [
            ("/v1/subscriptions", {"GET": self.list_subscriptions, "POST": self.subscribe}),
            ("/v1/subscriptions/{id}", {"GET": self.get, "DELETE": self.unsubscribe}),
        ]

    def list_subscriptions(self, request: Request, account: int, _: str) -> Response:
        limit = _count_param(request, "limit", DEFAULT_LIMIT, 1)
        offset = _count_param(request, "offset", 0, 0)
        inactive = request.flag("includeInactive", False)
        return Response.json(200, self._subscriptions.page(account, offset, limit, inactive))

    def subscribe(self, request: Request, account: int, _: str) -> Response:
        row = self._subscriptions.subscribe(account, request.json())
        return Response.json(200, render_subscription(row))

    def get(self, request: Request, account: int, ident: str) -> Response:
        row = self._subscriptions.get(account, parse_id(ident))
        return Response.json(200, render_subscription(row))

    def unsubscribe(self, request: Request, account: int, ident: str) -> Response:
        self._subscriptions.delete(account, parse_id(ident))
        # 200 with no documented body, as for a contact: send none.
        return Response(200)
