"""``/v1/auth/*``: the endpoints of Aurinko's Account OAuth flow.

``authorize`` and ``consent`` answer a person in a browser: problems are HTML pages, and
the browser is only ever sent to a return URL that passed the checks. ``token/{code}``
answers the application: JSON, like the rest of the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bridge.sandbox import pages, returnurls
from bridge.sandbox.config import SandboxConfig
from bridge.sandbox.errors import ApiError
from bridge.sandbox.oauth import (
    NO_CLIENT,
    FlowError,
    PendingConsents,
    basic_client,
    issue_code,
    parse_authorize,
    redeem_code,
)
from bridge.sandbox.store import Store
from bridge.sandbox.wire import Request, Response

# A handler gets the request and the ``{id}`` path segment; no account calls these.
AuthHandler = Callable[[Request, str], Response]
_CODE_IN_PATH = re.compile(r"(/v1/auth/token/)[^\s?/]+")


def redact(text: str) -> str:
    """``text`` (a path or request line) without the authorization code: fit for a log."""
    return _CODE_IN_PATH.sub(r"\1…", text)


def _for_a_person(handler: AuthHandler) -> AuthHandler:
    def page(request: Request, ident: str) -> Response:
        try:
            return handler(request, ident)
        except FlowError as error:
            if "application/json" in request.headers.get("accept", ""):
                # A program checking the request first (``account add``) reads the
                # ``ApiRequestFailed`` envelope the OAS's authorize refers its errors to.
                raise ApiError(error.status, "badRequest", error.message) from None
            return pages.error_page(error.status, error.message)

    return page


class AuthHandlers:
    def __init__(
        self,
        config: SandboxConfig,
        store: Store,
        clock: Callable[[], float],
        registered: returnurls.Registered,
    ) -> None:
        self._config = config
        self._registered = registered
        self._store = store
        self._clock = clock
        self._pending = PendingConsents(config.code_ttl, clock)

    def routes(self) -> list[tuple[str, dict[str, AuthHandler]]]:
        return [
            ("/v1/auth/authorize", {"GET": _for_a_person(self.authorize)}),
            ("/v1/auth/consent", {"POST": _for_a_person(self.consent)}),
            ("/v1/auth/token/{id}", {"POST": self.exchange, "GET": self.deprecated_exchange}),
        ]

    def authorize(self, request: Request, _: str) -> Response:
        checked = parse_authorize(request.query, self._config, self._registered)
        if checked.account is not None and not self._store.is_live(checked.account):
            raise FlowError("Unknown accountId: no such account to re-authorize")
        return pages.consent_page(checked, self._pending.add(checked))

    def consent(self, request: Request, _: str) -> Response:
        if self._config.client_id is None:
            raise FlowError(NO_CLIENT)
        try:
            form = request.form()
        except ApiError as error:
            raise FlowError(error.message) from error
        decisions = form.get("decision", [])
        if decisions not in (["approve"], ["deny"]):
            raise FlowError("The answer must be Approve or Deny")
        request_ids = form.get("requestId", [])
        if len(request_ids) != 1:
            raise FlowError(
                "The consent form lacks its request id: start again from the application."
            )
        asked = self._pending.take(request_ids[0])
        if decisions == ["approve"]:
            code = issue_code(self._store, asked, self._clock(), self._config.code_ttl)
            params = [("code", code)]
        else:
            params = [("error", "access_denied"), ("error_description", "The user denied access")]
        if asked.state is not None:
            params.append(("state", asked.state))
        return pages.redirect(returnurls.with_query(asked.return_url, params))

    def exchange(self, request: Request, code: str) -> Response:
        client_id = basic_client(request.headers.get("authorization"), self._config)
        result = redeem_code(self._store, code, client_id, self._clock())
        answer = {"accountId": result.account, "accessToken": result.access_token}
        # RFC 6749 5.1: an answer holding a token is never cached.
        return Response.json(200, answer, [("Cache-Control", "no-store"), ("Pragma", "no-cache")])

    def deprecated_exchange(self, request: Request, code: str) -> Response:
        # OAS: "Get access token, Deprecated use POST instead": documented, and used by the
        # vendor's Java client, so it works as POST does; the answer says it is deprecated.
        answer = self.exchange(request, code)
        answer.headers.append(("Deprecation", "true"))
        return answer
