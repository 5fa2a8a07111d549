"""The sync engine: local writes, outbox push, delta-token pull and conflict merging."""

from .engine import ContactNotFoundError, EngineOptions, SyncEngine, UidConflictError
from .locks import LockTimeout
from .merge import ConflictPolicy, MergeResult, merge3
from .reports import SyncReport

__all__ = [
    "ConflictPolicy",
    "ContactNotFoundError",
    "EngineOptions",
    "LockTimeout",
    "MergeResult",
    "SyncEngine",
    "SyncReport",
    "UidConflictError",
    "merge3",
]
