"""How an engine syncs: the settings of ``[sync]`` it runs with."""

from __future__ import annotations

from dataclasses import dataclass

from ..aurinko import RetryPolicy
from .merge import ConflictPolicy

OUTBOX_RETRY = RetryPolicy(max_attempts=8, base_delay=10.0, max_delay=3600.0)


@dataclass(frozen=True)
class EngineOptions:
    policy: ConflictPolicy = ConflictPolicy.REMOTE_WINS
    # How long a read of a stale book waits for the pull it asked for; after that it
    # serves the store as it is, and the pull goes on in the background.
    request_wait: float = 2.0
    # How long a write waits for Aurinko to confirm it. 0 (the default) is write-behind:
    # a write answers once the store and the outbox hold it, and the push goes on in the
    # background; Aurinko is hundreds of milliseconds away, a store write is not.
    write_wait: float = 0.0
    # Outbox left after a failed push is tried again this often at the least (or when the
    # account's breaker lets calls out again, if later).
    retry_pending: float = 5.0
    # One write that Aurinko keeps failing (a 500 for that contact) waits on its own,
    # doubling from base_delay, and is parked after max_attempts; the others go on.
    retry: RetryPolicy = OUTBOX_RETRY
    # An instance that sees a book owned by another checks this often whether that one is
    # gone (its books are free then), so a dead instance's books are taken over this fast.
    takeover_check: float = 2.0
