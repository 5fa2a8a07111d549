"""Retry policy: which failures are worth another try, and how long to wait."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

# 408, 429 and 5xx are transient by the contract (OAS "Handling errors"); every other
# 4xx says the request itself is wrong.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# Answers that prove the server did not act on a request, so even a non-idempotent POST
# may be sent again without creating a second contact.
NOT_PROCESSED_STATUSES = frozenset({408, 429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter.

    ``max_attempts`` counts the first try. ``max_delay`` also caps a server's
    ``Retry-After`` so a hostile or buggy header cannot park a caller for hours.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` starts at 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)
