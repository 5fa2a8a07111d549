"""Aurinko's Account OAuth flow, as far as the sandbox plays it: the checks of an
authorization request, single-use consent requests, and authorization codes.

The sandbox plays both Aurinko and the provider: instead of sending the browser on to
Google's or Microsoft's sign-in, ``/v1/auth/authorize`` shows its own consent page.
Pending consent requests live in memory (a restart asks the user to start again);
authorization codes live in the store, by hash, so that redeeming one and creating its
account is one transaction: of two concurrent exchanges of a code exactly one wins.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bridge.sandbox import returnurls
from bridge.sandbox.config import SandboxConfig
from bridge.sandbox.errors import ApiError
from bridge.sandbox.records import rfc3339
from bridge.sandbox.store import CodeRow, Store, token_hash

# ``ServiceTypeNonDaemon`` and ``Scope`` of Aurinko's OpenAPI description.
SERVICE_TYPES = (
    "Google", "Office365", "EWS", "IMAP", "Salesforce", "Salesflare", "Repfabric", "Slack",
    "SugarCRM", "HighLevel", "Hubspot", "Zoom", "Webex", "WebexBot", "Pipedrive",
    "EclipseERP", "AutoQuotes", "NetSuite", "SpecPath", "Zoho", "Clientify", "QuickBooks",
    "ActiveCampaign", "Creatio", "ConstantContact", "Fishbowl", "iCloud",
)  # fmt: skip
SCOPES = (
    "Calendar.Read", "Calendar.ReadWrite", "Mail.Read", "Mail.ReadWrite", "Mail.Send",
    "Mail.Drafts", "Mail.All", "Contacts.Read", "Contacts.ReadWrite", "Tasks.Read",
    "Tasks.ReadWrite",
)  # fmt: skip
NO_CLIENT = (
    "The sandbox has no OAuth application configured: start it with --client-id and "
    "--client-secret (SandboxConfig.client_id, client_secret)."
)
BASIC_REALM = 'Basic realm="aurinko"'
# Consent requests held at once; past this the oldest make way (a page left open, a loop).
_MAX_PENDING = 1000


class FlowError(Exception):
    """A problem shown to the person in the browser, as an HTML page (never a redirect)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class AuthorizeRequest:
    """An authorization request that passed every check."""

    client_id: str
    service_type: str
    scopes: tuple[str, ...]
    return_url: str
    state: str | None
    account: int | None = None  # ``accountId``: re-authorize this account


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        # Two differing returnUrls (say) leave it open which one a check looked at.
        raise FlowError(f"{name} is given more than once")
    return values[0]


def _required(query: dict[str, list[str]], name: str) -> str:
    value = _single(query, name)
    if not value:
        raise FlowError(f"{name} is required")
    return value


def not_registered(url: str) -> str:
    """The refusal of an unregistered return URL. The second half is the OAS's own
    ``returnUrl`` description; the first half and the 400 page are our guess (Aurinko
    documents no answer for it, only that errors follow "Handling errors")."""
    return (
        f"returnUrl {url} is not registered for this application: it must be registered"
        " on the settings page in Aurinko portal"
    )


def _check_return_url(url: str, registered: returnurls.Registered) -> None:
    if url not in registered:
        raise FlowError(not_registered(url))


def _scopes(query: dict[str, list[str]]) -> tuple[str, ...]:
    # Space-separated as documented; repeated ``scopes`` keys (explode) are accepted too.
    named = [scope for value in query.get("scopes", []) for scope in value.split()]
    for scope in named:
        if scope not in SCOPES:
            raise FlowError(f"Unknown scope {scope!r}: scopes are among {', '.join(SCOPES)}")
    return tuple(dict.fromkeys(named))


def parse_authorize(
    query: dict[str, list[str]], config: SandboxConfig, registered: returnurls.Registered
) -> AuthorizeRequest:
    """The checked request; ``FlowError`` names the first problem found.

    The client and its return URL come first: until both are known good, no error may
    be sent anywhere but to the browser that asked.
    """
    if config.client_id is None:
        raise FlowError(NO_CLIENT)
    client_id = _required(query, "clientId")
    if client_id != config.client_id:
        raise FlowError("Unknown clientId")
    return_url = _required(query, "returnUrl")
    _check_return_url(return_url, registered)
    response_type = _single(query, "responseType") or "code"
    if response_type == "token":
        raise FlowError(
            "responseType=token (the implicit flow) is not supported by the sandbox: "
            "use responseType=code"
        )
    if response_type != "code":
        raise FlowError("responseType must be code")
    service_type = _required(query, "serviceType")
    if service_type not in SERVICE_TYPES:
        raise FlowError(f"Unknown serviceType {service_type!r}: one of {', '.join(SERVICE_TYPES)}")
    return AuthorizeRequest(
        client_id,
        service_type,
        _scopes(query),
        return_url,
        _single(query, "state"),
        _account_id(query),
    )


def _account_id(query: dict[str, list[str]]) -> int | None:
    value = _single(query, "accountId")
    if value is None:
        return None
    if not value.isdigit():
        raise FlowError("accountId must be a number (int64)")
    return int(value)


class PendingConsents:
    """Consent pages shown and not yet answered: single-use ids that expire."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[AuthorizeRequest, float]] = {}

    def add(self, request: AuthorizeRequest) -> str:
        request_id = secrets.token_urlsafe(24)
        now = self._clock()
        with self._lock:
            for key, (_, expires) in list(self._pending.items()):
                if expires <= now:
                    del self._pending[key]
            while len(self._pending) >= _MAX_PENDING:
                del self._pending[next(iter(self._pending))]
            self._pending[request_id] = (request, now + self._ttl)
        return request_id

    def take(self, request_id: str) -> AuthorizeRequest:
        """The request behind ``request_id``, which can never be taken again."""
        with self._lock:
            found = self._pending.pop(request_id, None)
        if found is None:
            raise FlowError(
                "This consent request is unknown or was already answered: start again "
                "from the application."
            )
        request, expires = found
        if self._clock() >= expires:
            raise FlowError("This consent request has expired: start again from the application.")
        return request


def issue_code(store: Store, request: AuthorizeRequest, now: float, ttl: float) -> str:
    """A new single-use authorization code for an approved request."""
    code = secrets.token_urlsafe(32)
    grant = CodeRow(
        request.client_id, request.service_type, list(request.scopes), request.return_url,
        expires=now + ttl, used=False, account=request.account,
    )  # fmt: skip
    # Used and expired codes are kept one more ttl, so a late retry learns what happened.
    store.save_code(token_hash(code), grant, forget_before=now - ttl)
    return code


def _invalid_code(message: str) -> ApiError:
    return ApiError(400, "code.invalid", message)


@dataclass(frozen=True)
class Exchanged:
    account: int
    access_token: str


def redeem_code(store: Store, code: str, client_id: str, now: float) -> Exchanged:
    """Trade a code for a new account and its access token, once; a code of a consent for
    an existing account (``accountId``) gives that account a new token instead.

    Lookup, checks, account creation and marking the code used are one store
    transaction, so concurrent exchanges of one code serialize and only one wins.
    A code presented by the wrong client stays usable by its own.
    """
    digest = token_hash(code)
    with store.transaction():
        grant = store.code(digest)
        if grant is None:
            raise _invalid_code("Unknown authorization code")
        if grant.client_id != client_id:
            raise _invalid_code("The authorization code was not issued to this client")
        if grant.used:
            raise _invalid_code("The authorization code was already used")
        if now >= grant.expires:
            raise _invalid_code("The authorization code has expired")
        token = secrets.token_urlsafe(32)
        if grant.account is None:
            account = store.create_account(
                token_hash(token), grant.service_type, grant.scopes, rfc3339(now)
            )
        elif store.reauthorize(grant.account, token_hash(token), grant.service_type, grant.scopes):
            account = grant.account  # same account, same contacts: a new token and grant
        else:
            raise _invalid_code("The account to re-authorize was deleted")
        store.mark_code_used(digest)
    return Exchanged(account, token)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, [("WWW-Authenticate", BASIC_REALM)])


def basic_client(header: str | None, config: SandboxConfig) -> str:
    """The client id of valid HTTP Basic credentials; 401 otherwise."""
    if config.client_id is None or config.client_secret is None:
        raise _unauthorized(NO_CLIENT)
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise _unauthorized("Client credentials are required: HTTP Basic with client id and secret")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise _unauthorized("Malformed HTTP Basic credentials") from exc
    client_id, colon, secret = decoded.partition(":")
    # Both compared, always: the time taken says nothing about which one was wrong.
    id_ok = hmac.compare_digest(client_id.encode(), config.client_id.encode())
    secret_ok = hmac.compare_digest(secret.encode(), config.client_secret.encode())
    if not (colon and id_ok and secret_ok):
        raise _unauthorized("Invalid client credentials")
    return client_id
