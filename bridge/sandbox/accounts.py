"""``/v1/account``: the account behind a bearer token (``ApiAccountOutDto``), and its deletion.

Accounts of configured tokens were never authorized through the OAuth flow, so they are
described from the sandbox's provider profile: ``google`` -> ``Google``, ``office365`` ->
``Office365``, and ``generic`` -> ``Google`` too (the enum has no neutral value, and
Google is the real provider whose rules are closest to ``generic``: year-less birthdays,
any number of emails); their scope is ``Contacts.ReadWrite``, what the bridge needs.
Accounts made by the OAuth flow answer the service type and scopes they were authorized
with. Either way the provider profile alone decides what a contact may hold.

``tokenStatus`` is ``active`` until the test hook kills the grant (``invalid`` or ``dead``,
``SandboxApp.set_token_status``, ``PUT /_sandbox/account``); this endpoint answers all the
same, as it needs no provider call, while contact calls answer 401 ``token.refresh.failed``
(OAS ``TokenStatus``: with a dead token "Aurinko will just return 401 without making calls
to the provider"). A consent with ``accountId`` makes the grant active again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.sandbox.errors import ApiError
from bridge.sandbox.profiles import ProfileState
from bridge.sandbox.records import rfc3339
from bridge.sandbox.routing import Handler
from bridge.sandbox.store import AccountRow, Store
from bridge.sandbox.wire import Request, Response

_PROFILE_SERVICE = {"google": "Google", "office365": "Office365"}
CONFIGURED_SCOPES = ("Contacts.ReadWrite",)
# ``ServiceProvider`` lacks one ``ServiceTypeNonDaemon`` value; every other one is in both.
_PROVIDER_OF = {"WebexBot": "Webex"}


TOKEN_STATUSES = ("active", "invalid", "dead")
# What a contact call answers while the grant is not active. ``token.refresh.failed`` is the
# vendor's word (issue 22's audit); ``token.invalid`` for the state Aurinko still retries is ours.
_REFUSAL = {
    "dead": ("token.refresh.failed", "Aurinko could not refresh the provider's grant: the"
             " account's owner must re-authorize it"),
    "invalid": ("token.invalid", "The provider refused the account's grant; Aurinko retries"),
}  # fmt: skip


def checked_token_status(status: object) -> str:
    if status not in TOKEN_STATUSES:
        raise ValueError(f"tokenStatus must be one of {', '.join(TOKEN_STATUSES)}")
    assert isinstance(status, str)
    return status


def refuse_without_grant(status: str) -> None:
    """401 for a call that needs the provider, when the account's grant is not active."""
    if status in _REFUSAL:
        code, message = _REFUSAL[status]
        raise ApiError(401, code, message)


def describe(row: AccountRow, profile_name: str) -> dict[str, Any]:
    service_type = row.service_type or _PROFILE_SERVICE.get(profile_name, "Google")
    scopes = row.scopes if row.scopes is not None else list(CONFIGURED_SCOPES)
    answer: dict[str, Any] = {
        "id": row.id,
        "serviceType": service_type,
        "serviceProvider": _PROVIDER_OF.get(service_type, service_type),
        "active": True,
        "tokenStatus": row.token_status,
        "type": "personal",
        "daemon": False,
        "email": f"account{row.id}@sandbox.invalid",
        "name": f"Sandbox account {row.id}",
        "authScopes": scopes,
    }
    if row.created is not None:
        answer["createdAt"] = row.created
    return answer


class AccountHandlers:
    def __init__(self, store: Store, profile: ProfileState, clock: Callable[[], float]) -> None:
        self._store = store
        self._profile = profile
        self._clock = clock

    def routes(self) -> list[tuple[str, dict[str, Handler]]]:
        return [
            ("/v1/account", {"GET": self.get_account, "DELETE": self.delete_account}),
            ("/v1/account/token", {"DELETE": self.delete_token}),
        ]

    def get_account(self, request: Request, account: int, _: str) -> Response:
        return Response.json(200, describe(self._store.account(account), self._profile.config.name))

    def delete_token(self, request: Request, account: int, _: str) -> Response:
        # OAS: "Delete the token and revoke all provider authentication data associated
        # with it". The account stays (a consent with its accountId gives it a new token);
        # this token answers 401 token.dead from now on.
        self._store.revoke_token(account)
        return Response(200)

    def delete_account(self, request: Request, account: int, _: str) -> Response:
        # The token answers 401 token.dead from now on; a configured token gets a new,
        # empty account at the sandbox's next start.
        self._store.delete_account(account, rfc3339(self._clock()))
        return Response(200)
