"""Fault injection: errors, latency, dropped connections and not-ready sync starts.

One seeded RNG, drawn three times per faulted request in a fixed order, makes a run
reproducible for a given seed and request order.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import TypeVar

from bridge.sandbox.config import FaultConfig, WebhookFaults
from bridge.sandbox.errors import ApiError

_ERROR_CODES = {
    429: ("tooManyRequests", "Too many requests (injected by the sandbox)"),
    500: ("internalError", "Internal server error (injected by the sandbox)"),
    503: ("serviceUnavailable", "Service unavailable (injected by the sandbox)"),
}
_T = TypeVar("_T")
# How long a blocking (awaitReady) sync start waits while the sync is "not ready".
AWAIT_READY_DELAY = 0.05


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request, drawn before it is handled."""

    drop_before: bool
    error: ApiError | None
    drop_after: bool


def _retry_after(seconds: float) -> str:
    # Integer seconds as HTTP wants; fractions are kept so tests can use short waits.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def injected_error(status: int, retry_after: float | None) -> ApiError:
    code, message = _ERROR_CODES.get(status, ("injectedFault", "Injected fault"))
    headers = []
    if status in (429, 503) and retry_after is not None:
        headers.append(("Retry-After", _retry_after(retry_after)))
    return ApiError(status, code, message, headers)


class FaultInjector:
    """Thread-safe holder of the current ``FaultConfig`` and its RNG."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self._config = config
        self._rng = random.Random(config.seed)
        self._not_ready_left = config.not_ready_count

    @property
    def config(self) -> FaultConfig:
        return self._config

    def replace(self, config: FaultConfig) -> None:
        """Swap the settings; the RNG is reseeded and the not-ready count restarts."""
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._not_ready_left = config.not_ready_count

    def describe(self) -> dict[str, object]:
        """The settings as JSON-ready data (what ``GET /_sandbox/faults`` answers)."""
        with self._lock:
            data: dict[str, object] = asdict(self._config)
            data["error_statuses"] = list(self._config.error_statuses)
            data["not_ready_left"] = self._not_ready_left
        return data

    def delay(self) -> None:
        latency = self._config.latency
        if latency > 0:
            time.sleep(latency)

    def decide(self) -> FaultDecision:
        with self._lock:
            config = self._config
            drop, fail, drop_after = self._rng.random(), self._rng.random(), self._rng.random()
            error = None
            if fail < config.error_rate:
                status = self._rng.choice(config.error_statuses)
                error = injected_error(status, config.retry_after)
        return FaultDecision(drop < config.drop_rate, error, drop_after < config.drop_after_rate)

    def take_not_ready(self) -> bool:
        """True if this sync start should still answer ``ready: false``; counts it."""
        with self._lock:
            if self._not_ready_left > 0:
                self._not_ready_left -= 1
                return True
            return False

    def sync_pending(self) -> bool:
        """True while some sync starts are still due to answer ``ready: false``."""
        with self._lock:
            return self._not_ready_left > 0


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    return float(value)


def _integer(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer")
    return value


def _statuses(key: str, value: object) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list of integers")
    return tuple(_integer(key, status) for status in value)


def _optional(parse: Callable[[str, object], _T], key: str, value: object) -> _T | None:
    return None if value is None else parse(key, value)


def fault_config_from_json(data: object) -> FaultConfig:
    """A ``FaultConfig`` from JSON (field names as in the dataclass; absent = default).

    Raises ``ValueError`` naming the offending key.
    """
    if not isinstance(data, dict):
        raise ValueError("fault settings must be a JSON object")
    # ``not_ready_left`` is read-only state that ``describe`` adds: accept it back, so a
    # test can GET the settings, change one key and PUT them.
    unknown = sorted(set(data) - set(FaultConfig.__dataclass_fields__) - {"not_ready_left"})
    if unknown:
        raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
    default = FaultConfig()

    def pick(key: str, parse: Callable[[str, object], _T], fallback: _T) -> _T:
        return parse(key, data[key]) if key in data else fallback

    return FaultConfig(
        error_rate=pick("error_rate", _number, default.error_rate),
        error_statuses=pick("error_statuses", _statuses, default.error_statuses),
        retry_after=pick("retry_after", partial(_optional, _number), default.retry_after),
        latency=pick("latency", _number, default.latency),
        drop_rate=pick("drop_rate", _number, default.drop_rate),
        drop_after_rate=pick("drop_after_rate", _number, default.drop_after_rate),
        not_ready_count=pick("not_ready_count", _integer, default.not_ready_count),
        seed=pick("seed", partial(_optional, _integer), default.seed),
    )


def webhook_faults_from_json(data: object) -> WebhookFaults:
    """``WebhookFaults`` from JSON (field names as in the dataclass; absent = default, off).

    Raises ``ValueError`` naming the offending key.
    """
    if not isinstance(data, dict):
        raise ValueError("webhook fault settings must be a JSON object")
    unknown = sorted(set(data) - set(WebhookFaults.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown webhook fault setting(s): {', '.join(unknown)}")
    default = WebhookFaults()

    def pick(key: str, parse: Callable[[str, object], _T], fallback: _T) -> _T:
        return parse(key, data[key]) if key in data else fallback

    return WebhookFaults(
        drop_rate=pick("drop_rate", _number, default.drop_rate),
        delay=pick("delay", _number, default.delay),
        duplicate_rate=pick("duplicate_rate", _number, default.duplicate_rate),
        bad_signature_rate=pick("bad_signature_rate", _number, default.bad_signature_rate),
        seed=pick("seed", partial(_optional, _integer), default.seed),
    )
