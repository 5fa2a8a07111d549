"""Typed errors for the Aurinko Contacts API, one per way a caller can react."""

from __future__ import annotations

from typing import Any


class AurinkoError(Exception):
    """Base class: every failure the client raises is one of these.

    Messages carry the HTTP status, the API's error code and request id, and never a
    bearer token.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        original: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        # ``originalError`` of the envelope: the provider's own error, as Aurinko relays it
        # (Graph's ``{"error": {code, message}}``, Google's with ``fieldViolations``).
        self.original = original


class UnauthorizedError(AurinkoError):
    """401: the account token is missing, dead or cannot be refreshed. Needs the user."""

    @property
    def grant_dead(self) -> bool:
        """Aurinko can no longer refresh the provider's grant (OAS ``TokenStatus`` dead):
        the account's owner must consent again for the same account (``account relink``)."""
        return self.code in DEAD_TOKEN_CODES


# 401 codes of a dead provider grant.
DEAD_TOKEN_CODES = frozenset({"token.dead", "token.refresh.failed"})


class ForbiddenError(AurinkoError):
    """403: the token is valid but lacks a permission (``Contacts.ReadWrite`` for writes)."""


class NotFoundError(AurinkoError):
    """404: the contact is gone (or not visible to this account). Never retried."""


class PreconditionFailedError(AurinkoError):
    """412: the If-Match etag is stale; fetch the current contact and merge."""


class TokenExpiredError(AurinkoError):
    """410 ``syncToken.expired`` or 400 ``token.notValid``: restart the remote sync."""


class BadRequestError(AurinkoError):
    """Any other 4xx: the request itself is wrong and retrying will not help."""


class RateLimitedError(AurinkoError):
    """429 after the retry budget ran out. ``retry_after`` is the server's hint, if any."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.retry_after = retry_after


class UnavailableError(AurinkoError):
    """5xx, 408, timeouts or network errors after the retry budget ran out.

    ``may_have_applied`` is true when a write may have reached the server before the
    failure (a lost response), so the caller must reconcile before writing again.
    """

    def __init__(
        self,
        message: str,
        *,
        may_have_applied: bool = False,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.may_have_applied = may_have_applied


class ProtocolError(AurinkoError):
    """The server answered something the contract does not allow (bad JSON, no tokens)."""
