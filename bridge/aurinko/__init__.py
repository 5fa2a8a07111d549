"""Client for the Aurinko Contacts API (``api.aurinko.io`` or the local sandbox)."""

from .breaker import Breaker, BreakerPolicy
from .client import DEFAULT_BASE_URL, AurinkoClient
from .errors import (
    AurinkoError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
    ProtocolError,
    RateLimitedError,
    TokenExpiredError,
    UnauthorizedError,
    UnavailableError,
)
from .models import (
    AccountInfo,
    Contact,
    DeletedPage,
    DeletedRecord,
    SyncStart,
    UpdatedPage,
    WriteResult,
    normalize_contact,
)
from .retry import NO_RETRY, RetryPolicy

__all__ = [
    "DEFAULT_BASE_URL",
    "NO_RETRY",
    "AccountInfo",
    "AurinkoClient",
    "AurinkoError",
    "BadRequestError",
    "Breaker",
    "BreakerPolicy",
    "Contact",
    "DeletedPage",
    "DeletedRecord",
    "ForbiddenError",
    "NotFoundError",
    "PreconditionFailedError",
    "ProtocolError",
    "RateLimitedError",
    "RetryPolicy",
    "SyncStart",
    "TokenExpiredError",
    "UnauthorizedError",
    "UnavailableError",
    "UpdatedPage",
    "WriteResult",
    "normalize_contact",
]
