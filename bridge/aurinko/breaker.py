"""One account's view of whether Aurinko answers at all (a circuit breaker).

When a call fails after its whole retry budget because Aurinko is down, black-holed or
overloaded, every other call of the account would spend the same budget finding that out
again. The breaker remembers it: calls fail at once until a backoff has passed, the first
call after it probes, and a success closes it. Only failures that say nothing about the
request itself count (``UnavailableError``, ``RateLimitedError``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BreakerPolicy:
    base_delay: float = 2.0  # the first pause after Aurinko stops answering
    max_delay: float = 120.0  # pauses double up to this while it stays down


class Breaker:
    def __init__(
        self,
        policy: BreakerPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        self.reason = ""  # the failure that opened it, for logs and status

    def retry_in(self) -> float:
        """Seconds until calls go out again (0 when they go out now)."""
        with self._lock:
            return max(0.0, self._open_until - self._clock())

    @property
    def is_open(self) -> bool:
        return self.retry_in() > 0

    def failed(self, reason: str, retry_after: float | None = None) -> float:
        """Aurinko did not answer usefully; returns the pause before the next call."""
        with self._lock:
            self._failures += 1
            pause = min(self.policy.max_delay, self.policy.base_delay * 2 ** (self._failures - 1))
            if retry_after is not None:
                pause = min(self.policy.max_delay, max(pause, retry_after))
            self._open_until = self._clock() + pause
            self.reason = reason
            return pause

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._open_until = 0.0
            self.reason = ""
