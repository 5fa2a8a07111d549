"""What happens, counted as it happens: one registry per ``serve`` (tests run several)."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Histogram

from ..aurinko.calls import Call, CallObserver

# Aurinko relays to Google or Graph: hundreds of milliseconds are normal, seconds are not.
AURINKO_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A CardDAV request is answered from the store: milliseconds, a listing of thousands longer.
CARDDAV_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
# 401 codes that mean the provider's grant is gone: ``account relink`` renews it.
DEAD_TOKEN_CODES = frozenset({"token.dead", "token.refresh.failed"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.aurinko_calls = Counter(
            "bridge_aurinko_calls",
            "HTTP calls to Aurinko (every attempt, retries included), by operation and outcome",
            ["operation", "outcome"],
            registry=r,
        )
        self.aurinko_seconds = Histogram(
            "bridge_aurinko_call_seconds",
            "Time Aurinko took to answer a call, by operation",
            ["operation"],
            buckets=AURINKO_BUCKETS,
            registry=r,
        )
        self.carddav_requests = Counter(
            "bridge_carddav_requests",
            "CardDAV requests answered, by method and status",
            ["method", "status"],
            registry=r,
        )
        self.carddav_seconds = Histogram(
            "bridge_carddav_request_seconds",
            "Time to answer a CardDAV request (until its answer began), by method",
            ["method"],
            buckets=CARDDAV_BUCKETS,
            registry=r,
        )
        self.webhook_notifications = Counter(
            "bridge_webhook_notifications",
            "Aurinko webhook requests, accepted or refused",
            ["result"],
            registry=r,
        )
        self.push_messages = Counter(
            "bridge_push_messages",
            "WebDAV-Push messages to clients' push services, sent or failed",
            ["result"],
            registry=r,
        )
        self._lock = threading.Lock()
        self._dead_tokens: dict[tuple[str, str], bool] = {}

    def account(self, user: str, book: str) -> CallObserver:
        """The observer for one account's client: its calls are counted, and whether its
        last answer said the token is dead is remembered for ``token_dead``."""

        def observe(call: Call) -> None:
            self.aurinko_calls.labels(call.operation, call.outcome.value).inc()
            self.aurinko_seconds.labels(call.operation).observe(call.seconds)
            if call.status is not None:
                dead = call.status == 401 and call.error_code in DEAD_TOKEN_CODES
                with self._lock:
                    self._dead_tokens[(user, book)] = dead

        return observe

    def token_dead(self, user: str, book: str) -> bool:
        with self._lock:
            return self._dead_tokens.get((user, book), False)

    def carddav(self, method: str, status: str, seconds: float) -> None:
        # Unknown methods are one label: a client cannot grow the series without bound.
        method = method if method in _CARDDAV_METHODS else "OTHER"
        self.carddav_requests.labels(method, status[:3]).inc()
        self.carddav_seconds.labels(method).observe(seconds)

    def webhook(self, accepted: bool) -> None:
        self.webhook_notifications.labels("accepted" if accepted else "refused").inc()

    def push_message(self, sent: bool) -> None:
        self.push_messages.labels("sent" if sent else "failed").inc()


_CARDDAV_METHODS = frozenset(
    {
        "GET",
        "HEAD",
        "PUT",
        "DELETE",
        "PROPFIND",
        "PROPPATCH",
        "REPORT",
        "MKCOL",
        "OPTIONS",
        "POST",
        "MOVE",
        "COPY",
    }
)
