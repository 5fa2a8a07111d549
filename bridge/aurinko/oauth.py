"""Linking an account through an Aurinko application (the app-level OAuth flow).

The browser goes to ``{base}/auth/authorize`` with the application's client id; after the
user's consent Aurinko sends it back to the return URL with a one-time ``code``, which the
application exchanges, with its client id and secret, for the account's access token
(``POST {base}/auth/token/{code}``, HTTP Basic). Nothing here logs or prints a token, a
secret or a code.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from .client import DEFAULT_BASE_URL
from .errors import (
    AurinkoError,
    BadRequestError,
    ProtocolError,
    UnauthorizedError,
    UnavailableError,
)
from .responses import error_from_response

# Reading contacts and writing them back: what a CardDAV book of the account needs.
CONTACT_SCOPES = ("Contacts.Read", "Contacts.ReadWrite")

# The providers whose contacts Aurinko's Contacts API reaches (DOC-C names Google, Office 365,
# Outlook.com (an Office365 service) and MS Exchange (EWS)); no source says any other does.
CONTACT_SERVICES = ("Google", "Office365", "EWS")

# ServiceTypeNonDaemon of the vendor's OpenAPI: what ``serviceType`` may name.
SERVICE_TYPES = (
    "Google",
    "Office365",
    "EWS",
    "IMAP",
    "iCloud",
    "Salesforce",
    "Salesflare",
    "Repfabric",
    "Slack",
    "SugarCRM",
    "HighLevel",
    "Hubspot",
    "Zoom",
    "Webex",
    "WebexBot",
    "Pipedrive",
    "EclipseERP",
    "AutoQuotes",
    "NetSuite",
    "SpecPath",
    "Zoho",
    "Clientify",
    "QuickBooks",
    "ActiveCampaign",
    "Creatio",
    "ConstantContact",
    "Fishbowl",
)

EXCHANGE_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class LinkedAccount:
    """What the code exchange gives: the Aurinko account and its access token."""

    account_id: int | None
    access_token: str = field(repr=False)


def authorize_url(
    base_url: str,
    client_id: str,
    service_type: str,
    return_url: str,
    state: str,
    scopes: Sequence[str] = CONTACT_SCOPES,
    account_id: int | None = None,
) -> str:
    """Where the browser starts the consent (``GET {base}/auth/authorize``); with
    ``account_id``, the consent renews that Aurinko account's grant (OAS: "for
    re-authorizing an existing account") instead of making a new account."""
    query = {
        "clientId": client_id,
        "serviceType": service_type,
        "scopes": " ".join(scopes),
        "responseType": "code",
        "returnUrl": return_url,
        "state": state,
        # OAS: "Aurinko will check if a user granted all requested permissions": a user
        # who unticks write access under Google's granular consent is told at once, not
        # found out at the first write.
        "ensureScopes": "true",
    }
    if account_id is not None:
        query["accountId"] = str(account_id)
    encoded = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/auth/authorize?{encoded}"


CHECK_TIMEOUT = httpx.Timeout(15.0, connect=10.0)


def check_authorize(
    url: str,
    *,
    timeout: httpx.Timeout | float = CHECK_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Ask for the consent address once, as a program, before a person is sent there: a
    request Aurinko refuses outright (a return URL not registered for the application,
    an unknown client id) is told here, in its own words, rather than as a page in a
    browser the command cannot read. A redirect (to the provider's sign-in) or a page is
    the flow going on. Raises UnavailableError (no answer, 408, 429, 5xx), or another
    AurinkoError (BadRequestError for a 400) carrying Aurinko's message.

    Our choice: the OAS documents only a 303 and "See 'Handling errors'" for other
    answers; a GET of the address starts nothing a person has to finish.
    """
    what = "GET /auth/authorize"  # the state stays out of every message
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as http:
            response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise UnavailableError(f"{what}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        raise _error(what, response)


def exchange_code(
    base_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    *,
    timeout: httpx.Timeout | float = EXCHANGE_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> LinkedAccount:
    """Trade the one-time ``code`` for the account's token. Never retried: a code works once.

    Raises UnauthorizedError (401: wrong client id or secret), BadRequestError (another 4xx:
    a bad, used or expired code), UnavailableError (no answer, 408, 429 or 5xx) or
    ProtocolError (an answer without a token).
    """
    if not code:
        raise BadRequestError("the authorization code is empty")
    what = "POST /auth/token"  # the code stays out of every message
    url = f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/auth/token/"
    url += urllib.parse.quote(code, safe="")
    try:
        with httpx.Client(timeout=timeout, transport=transport) as http:
            response = http.post(
                url, auth=(client_id, client_secret), headers={"Accept": "application/json"}
            )
    except httpx.HTTPError as exc:
        raise UnavailableError(f"{what}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        raise _error(what, response)
    if response.status_code != 200:
        raise ProtocolError(f"{what}: unexpected HTTP {response.status_code}")
    try:
        body: Any = response.json()
    except ValueError:
        raise ProtocolError(f"{what}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"{what}: the answer is not a JSON object")
    token = body.get("accessToken")
    if not isinstance(token, str) or not token.strip():
        raise ProtocolError(f"{what}: the answer carries no accessToken")
    account_id = body.get("accountId")
    if isinstance(account_id, bool) or not isinstance(account_id, int):
        account_id = None
    return LinkedAccount(account_id=account_id, access_token=token.strip())


def _error(what: str, response: httpx.Response) -> AurinkoError:
    """The envelope's words (status, code, message, request id) in the error for the
    caller's one line, typed by what the caller can do about it."""
    described = error_from_response(what, response)
    status = response.status_code
    cls: type[AurinkoError]
    if status == 401:
        cls = UnauthorizedError
    elif status in (408, 429) or status >= 500:
        cls = UnavailableError
    else:
        cls = BadRequestError
    return cls(
        described.message,
        status=status,
        code=described.code,
        request_id=described.request_id,
    )
