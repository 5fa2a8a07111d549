"""``/.bridge/metrics``: the Prometheus text format, for whoever holds the bearer token."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..config import MetricsConfig
from ..front.wsgi import Environ, StartResponse, plain
from .counters import Metrics

PATH = "/.bridge/metrics"


def read_metrics_token(config: MetricsConfig | None) -> str | None:
    """The scrapers' token (ConfigError when its file is unreadable or others may read
    it); None when ``[metrics]`` is not configured."""
    return None if config is None else config.read_token()


class MetricsEndpoint:
    def __init__(self, metrics: Metrics, token: str) -> None:
        self.metrics = metrics
        self._expected = f"Bearer {token}".encode()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return plain(start_response, "405 Method Not Allowed", "GET only", [("Allow", "GET")])
        sent = environ.get("HTTP_AUTHORIZATION", "").encode("latin-1", "replace")
        if not hmac.compare_digest(sent, self._expected):
            challenge = [("WWW-Authenticate", 'Bearer realm="aurinko-bridge metrics"')]
            return plain(
                start_response, "401 Unauthorized", "a bearer token is required", challenge
            )
        body = generate_latest(self.metrics.registry)
        start_response(
            "200 OK",
            [
                ("Content-Type", CONTENT_TYPE_LATEST),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
