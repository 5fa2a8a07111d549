"""The sync engine: local writes, outbox push, delta-token pull and conflict merging."""

from .conflicts import ConflictGoneError, Keep
from .engine import SyncEngine
from .locks import LockTimeout
from .merge import ConflictPolicy, MergeResult, merge3
from .options import EngineOptions
from .reports import SyncReport
from .writes import ContactNotFoundError, UidConflictError

__all__ = [
    "ConflictGoneError",
    "ConflictPolicy",
    "ContactNotFoundError",
    "EngineOptions",
    "Keep",
    "LockTimeout",
    "MergeResult",
    "SyncEngine",
    "SyncReport",
    "UidConflictError",
    "merge3",
]
