"""What a pull or a push of one book works with."""

from __future__ import annotations

from dataclasses import dataclass

from ..aurinko import AurinkoClient, RetryPolicy
from ..store import ContactStore, Outbox
from .conflicts import ConflictKeeper
from .merge import ConflictPolicy


@dataclass(frozen=True)
class SyncContext:
    store: ContactStore
    outbox: Outbox
    client: AurinkoClient  # the book's Aurinko account
    keeper: ConflictKeeper
    policy: ConflictPolicy
    retry: RetryPolicy  # how a write Aurinko fails waits and when it is parked
