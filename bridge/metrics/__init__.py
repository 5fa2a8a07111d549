"""Prometheus metrics of one ``serve`` instance (``/.bridge/metrics``).

``Metrics`` holds what is counted as it happens (Aurinko calls, CardDAV requests, webhook
notifications, push messages); ``BookCollector`` reads what is a state (outbox depth,
parked writes, kept conflicts, pull and push ages, breakers, owned books) from the store
at scrape time, so a write pays nothing for it.
"""

from .books import BookCollector
from .counters import Metrics
from .endpoint import MetricsEndpoint, read_metrics_token

__all__ = ["BookCollector", "Metrics", "MetricsEndpoint", "read_metrics_token"]
