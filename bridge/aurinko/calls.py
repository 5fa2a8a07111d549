"""What each call to Aurinko came to, told to whoever counts them (the metrics).

The client reports every HTTP attempt, retries included: an operator wants to see the
failures the retries hid. Operations are named by method and path with ids replaced, so
their number stays small whatever the contacts are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx


class CallOutcome(StrEnum):
    OK = "ok"
    CLIENT_ERROR = "4xx"
    RATE_LIMITED = "429"
    SERVER_ERROR = "5xx"
    TIMEOUT = "timeout"
    NETWORK = "network"  # refused, reset, DNS: no answer at all


@dataclass(frozen=True)
class Call:
    operation: str  # "PATCH contacts/{id}"
    outcome: CallOutcome
    status: int | None  # the HTTP status, None without an answer
    seconds: float
    error_code: str | None = None  # Aurinko's ``code`` of a refusal, when it gave one


CallObserver = Callable[[Call], None]

# Path segments that name a resource, not an instance of one: anything else is an id.
_STATIC = frozenset(
    {"account", "auth", "contacts", "sync", "updated", "deleted", "subscriptions", "token"}
)


def operation(method: str, path: str) -> str:
    """``PATCH contacts/AAMk...`` -> ``PATCH contacts/{id}``."""
    parts = [p if p in _STATIC else "{id}" for p in path.split("?", 1)[0].strip("/").split("/")]
    return f"{method} {'/'.join(parts)}"


def outcome_of_status(status: int) -> CallOutcome:
    if status < 400:
        return CallOutcome.OK
    if status == 429:
        return CallOutcome.RATE_LIMITED
    return CallOutcome.CLIENT_ERROR if status < 500 else CallOutcome.SERVER_ERROR


def outcome_of_failure(exc: httpx.TransportError) -> CallOutcome:
    return CallOutcome.TIMEOUT if isinstance(exc, httpx.TimeoutException) else CallOutcome.NETWORK
