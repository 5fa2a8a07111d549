"""The exceptions that the handlers raise; the app turns them into wire answers."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer in the ``{code, message, requestId}`` envelope (``ApiRequestFailed``)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: list[tuple[str, str]] | None = None,
        original: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []
        self.original = original  # ``originalError``: the provider's own error, relayed


def bad_request(message: str) -> ApiError:
    return ApiError(400, "badRequest", message)


def invalid_field(path: str, problem: str) -> ApiError:
    """400 naming the field: ``Invalid field 'phoneNumbers[2].type': ...``."""
    return bad_request(f"Invalid field '{path}': {problem}")


def token_not_valid(message: str) -> ApiError:
    # The vendor client recognises a bad token by this code (JAVA AurinkoSyncRunner).
    return ApiError(400, "token.notValid", message)


def token_expired() -> ApiError:
    # Body copied from the OAS 410 example, word for word.
    return ApiError(410, "syncToken.expired", "syncToken expired.")


def contact_not_found() -> ApiError:
    return ApiError(404, "notFound", "Contact not found")


class ConnectionDropped(ConnectionAbortedError):
    """Raised by the WSGI app when fault injection drops the connection.

    Over a socket, the sandbox's own server closes the connection without writing a
    byte, so the client sees a transport error. In-process (e.g. ``httpx.WSGITransport``)
    there is no connection to close, so the exception propagates to the caller.
    ``after_acting`` tells whether the request's effect was committed first.
    """

    def __init__(self, after_acting: bool) -> None:
        when = "after acting" if after_acting else "before acting"
        super().__init__(f"sandbox dropped the connection {when}")
        self.after_acting = after_acting
