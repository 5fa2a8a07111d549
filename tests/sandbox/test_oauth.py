"""Aurinko's Account OAuth flow in the sandbox: authorize, consent, code exchange, and the
accounts it makes (``/v1/account``), over a real loopback socket and in a real browser."""

from __future__ import annotations

import base64
import logging
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import Page

from bridge.sandbox import FaultConfig, SandboxApp, SandboxConfig, serve_in_thread
from bridge.sandbox.cli import add_arguments, build_config
from tests.conftest import OTHER_TOKEN, TOKEN

CLIENT = "sandbox-app-4711"
SECRET = "s3cret-of-the-app"
RETURN = "http://127.0.0.1:9/callback"
REGISTERED = (RETURN, RETURN + "?session=42")  # what the tests' "portal" registered
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.sandbox(client_id=CLIENT, client_secret=SECRET, return_urls=REGISTERED)


# --- helpers ---------------------------------------------------------------------------


def _root(live_sandbox: str) -> str:
    return live_sandbox.removesuffix("/v1")


def _client(base: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # trust_env=False: no proxy from the environment may see loopback traffic.
    return httpx.Client(
        base_url=base, headers=headers, trust_env=False, follow_redirects=False, timeout=10
    )


@pytest.fixture
def web(live_sandbox: str) -> Iterator[httpx.Client]:
    """A client at the server root, as a browser (no credentials, no redirects followed)."""
    with _client(_root(live_sandbox)) as client:
        yield client


def _params(**changes: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "clientId": CLIENT,
        "serviceType": "Google",
        "scopes": "Contacts.ReadWrite",
        "responseType": "code",
        "returnUrl": RETURN,
        "state": "st-123",
    }
    params.update(changes)
    return {key: value for key, value in params.items() if value is not None}


def _request_id(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    match = re.search(r'name="requestId" value="([^"]+)"', page.text)
    assert match is not None, page.text
    return match.group(1)


def _consent_page(web: httpx.Client, **changes: str | None) -> str:
    return _request_id(web.get("/v1/auth/authorize", params=_params(**changes)))


def _answer(web: httpx.Client, request_id: str, decision: str) -> httpx.Response:
    return web.post("/v1/auth/consent", data={"requestId": request_id, "decision": decision})


def _callback(response: httpx.Response) -> dict[str, list[str]]:
    """The query the browser would bring back to the application."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(RETURN.split("?")[0])
    return parse_qs(urlsplit(location).query, keep_blank_values=True)


def _code(web: httpx.Client, **changes: str | None) -> str:
    query = _callback(_answer(web, _consent_page(web, **changes), "approve"))
    return query["code"][0]


def _exchange(
    base: str, code: str, auth: tuple[str, str] | None = (CLIENT, SECRET)
) -> httpx.Response:
    with _client(base) as client:
        return client.post(f"/v1/auth/token/{code}", auth=auth)


def _token(web: httpx.Client, **changes: str | None) -> tuple[int, str]:
    answer = _exchange(str(web.base_url), _code(web, **changes))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["accountId"], body["accessToken"]


def _envelope(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "requestId"}, body
    return body


def _error_page(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "location" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    return response.text


# --- authorize -------------------------------------------------------------------------


def test_authorize_shows_a_consent_page(web: httpx.Client) -> None:
    page = web.get("/v1/auth/authorize", params=_params(serviceType="Office365"))
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "style-src 'unsafe-inline'" in policy
    # The return URL's origin too: Chromium applies form-action to the redirect after a submit.
    assert "form-action 'self' http://127.0.0.1:9" in policy
    html = page.text
    assert '<meta name="viewport"' in html and "<script" not in html.lower()
    assert "Office365 contacts" in html and "Contacts.ReadWrite" in html and CLIENT in html
    assert '<form method="post" action="/v1/auth/consent">' in html
    assert '<button id="approve" name="decision" value="approve">Approve</button>' in html
    assert '<button id="deny" name="decision" value="deny">Deny</button>' in html


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"clientId": None}, "clientId is required"),
        ({"clientId": "someone-else"}, "Unknown clientId"),
        ({"returnUrl": None}, "returnUrl is required"),
        ({"returnUrl": "https://example.com/callback"}, "is not registered"),
        ({"returnUrl": "https://127.0.0.1:9/callback"}, "is not registered"),
        ({"returnUrl": "http://127.0.0.1:9@evil.example/cb"}, "is not registered"),
        ({"returnUrl": "http://127.0.0.1:9/callback#frag"}, "is not registered"),
        ({"returnUrl": "/relative"}, "is not registered"),
        ({"serviceType": None}, "serviceType is required"),
        ({"serviceType": "Gmail"}, "Unknown serviceType &#x27;Gmail&#x27;"),
        ({"serviceType": "GoogleBot"}, "Unknown serviceType"),  # a daemon type
        ({"scopes": "Contacts.Read Contacts.Write"}, "Unknown scope &#x27;Contacts.Write&#x27;"),
        ({"responseType": "token"}, "not supported by the sandbox"),
        ({"responseType": "id_token"}, "responseType must be code"),
    ],
    ids=lambda value: str(value) if isinstance(value, str) else None,
)
def test_a_bad_authorization_request_is_an_html_page_never_a_redirect(
    web: httpx.Client, changes: dict[str, str | None], needle: str
) -> None:
    html = _error_page(web.get("/v1/auth/authorize", params=_params(**changes)))
    assert needle in html and "requestId" not in html


def test_a_parameter_given_twice_is_refused(web: httpx.Client) -> None:
    query = urlencode(_params()) + "&" + urlencode({"returnUrl": "http://127.0.0.1:10/x"})
    assert "returnUrl is given more than once" in _error_page(
        web.get(f"/v1/auth/authorize?{query}")
    )


def test_values_are_escaped_in_the_pages(web: httpx.Client) -> None:
    html = _error_page(web.get("/v1/auth/authorize", params=_params(serviceType="<b>x</b>")))
    assert "<b>x" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


@pytest.mark.sandbox(client_id="<app & co>", client_secret="s", return_urls=(RETURN,))
def test_the_client_id_is_escaped_on_the_consent_page(web: httpx.Client) -> None:
    page = web.get("/v1/auth/authorize", params=_params(clientId="<app & co>"))
    assert page.status_code == 200 and "&lt;app &amp; co&gt;" in page.text
    assert "<app" not in page.text


def test_scopes_may_be_repeated_keys_or_left_out(web: httpx.Client) -> None:
    query = urlencode([*_params(scopes=None).items(), ("scopes", "Contacts.Read"),
                       ("scopes", "Calendar.Read Contacts.Read")])  # fmt: skip
    page = web.get(f"/v1/auth/authorize?{query}")
    assert "(Contacts.Read, Calendar.Read)" in page.text
    page = web.get("/v1/auth/authorize", params=_params(scopes=None, responseType=None))
    assert page.status_code == 200 and "no particular scopes" in page.text


@pytest.mark.sandbox(client_id=CLIENT, client_secret=SECRET)
def test_nothing_registered_refuses_every_return_url(
    web: httpx.Client, sandbox_app: SandboxApp, live_sandbox: str
) -> None:
    """Point 7 of issue 22: Aurinko redirects only to return URLs registered for the
    application (OAS ``returnUrl``: "It must be registered on the settings page in Aurinko
    portal"); a loopback URL is no exception. Registered later, it works."""
    url = "http://127.0.0.1:8765/callback"
    html = _error_page(web.get("/v1/auth/authorize", params=_params(returnUrl=url)))
    assert f"returnUrl {url} is not registered for this application" in html
    assert "must be registered on the settings page in Aurinko portal" in html
    # A program asking for JSON gets the ``ApiRequestFailed`` envelope instead.
    refused = web.get(
        "/v1/auth/authorize", params=_params(returnUrl=url), headers={"Accept": "application/json"}
    )
    assert refused.status_code == 400 and "location" not in refused.headers
    body = _envelope(refused)
    assert body["code"] == "badRequest" and "is not registered" in body["message"]
    # The portal's settings page, over HTTP: registered, the same request goes on.
    with _client(_root(live_sandbox), TOKEN) as admin:
        answer = admin.post("/_sandbox/return-urls", json={"url": url})
        assert answer.status_code == 200 and answer.json() == {"returnUrls": [url]}
        assert admin.post("/_sandbox/return-urls", json={"url": "ftp://x/"}).status_code == 400
    assert web.get("/v1/auth/authorize", params=_params(returnUrl=url)).status_code == 200
    assert sandbox_app.register_return_url("http://localhost:1/cb") == [
        url,
        "http://localhost:1/cb",
    ]
    other = "http://127.0.0.1:8766/callback"  # another port is another URL
    assert "is not registered" in _error_page(
        web.get("/v1/auth/authorize", params=_params(returnUrl=other))
    )


@pytest.mark.sandbox()
def test_return_urls_need_an_oauth_application(sandbox_app: SandboxApp) -> None:
    with pytest.raises(ValueError, match="need an OAuth application"):
        sandbox_app.register_return_url("http://127.0.0.1:8765/callback")


@pytest.mark.sandbox(
    client_id=CLIENT, client_secret=SECRET, return_urls=("https://app.example/aurinko?x=1",)
)
def test_registered_return_urls_must_match_exactly(web: httpx.Client) -> None:
    registered = "https://app.example/aurinko?x=1"
    assert web.get("/v1/auth/authorize", params=_params(returnUrl=registered)).status_code == 200
    for other in (RETURN, "https://app.example/aurinko", "https://app.example/aurinko?x=1&y"):
        html = _error_page(web.get("/v1/auth/authorize", params=_params(returnUrl=other)))
        assert "is not registered for this application" in html
    # The code is appended to the registered URL's own query.
    request_id = _consent_page(web, returnUrl=registered)
    location = _answer(web, request_id, "approve").headers["location"]
    assert re.fullmatch(r"https://app\.example/aurinko\?x=1&code=[\w-]+&state=st-123", location)


@pytest.mark.sandbox()
def test_without_an_oauth_application_the_flow_says_so(web: httpx.Client) -> None:
    html = _error_page(web.get("/v1/auth/authorize", params=_params()))
    assert "no OAuth application configured" in html and "--client-id" in html
    html = _error_page(_answer(web, "anything", "approve"))
    assert "no OAuth application configured" in html
    refused = _exchange(str(web.base_url), "some-code")
    assert (
        refused.status_code == 401
        and refused.headers["www-authenticate"] == 'Basic realm="aurinko"'
    )
    body = _envelope(refused)
    assert body["code"] == "unauthorized" and "no OAuth application configured" in body["message"]


# --- consent ---------------------------------------------------------------------------


def test_approving_redirects_with_a_code_and_the_state(web: httpx.Client) -> None:
    answer = _answer(web, _consent_page(web, state="a b&c=d"), "approve")
    assert answer.headers["cache-control"] == "no-store"
    query = _callback(answer)
    assert set(query) == {"code", "state"} and query["state"] == ["a b&c=d"]
    assert len(query["code"][0]) >= 32


def test_without_a_state_none_comes_back(web: httpx.Client) -> None:
    query = _callback(_answer(web, _consent_page(web, state=None), "approve"))
    assert set(query) == {"code"}


def test_a_return_url_with_a_query_keeps_it(web: httpx.Client) -> None:
    request_id = _consent_page(web, returnUrl=RETURN + "?session=42")
    location = _answer(web, request_id, "approve").headers["location"]
    assert location.startswith(RETURN + "?session=42&code=")


def test_denying_redirects_with_access_denied(web: httpx.Client) -> None:
    answer = _answer(web, _consent_page(web), "deny")
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        RETURN + "?error=access_denied&error_description=The+user+denied+access&state=st-123"
    )


def test_a_consent_request_is_single_use(web: httpx.Client) -> None:
    request_id = _consent_page(web)
    assert _answer(web, request_id, "approve").status_code == 303
    for decision in ("approve", "deny"):
        assert "already answered" in _error_page(_answer(web, request_id, decision))
    assert "unknown" in _error_page(_answer(web, "made-up-id", "approve"))


def test_a_bad_consent_form_does_not_use_the_request_up(web: httpx.Client) -> None:
    request_id = _consent_page(web)
    assert "Approve or Deny" in _error_page(_answer(web, request_id, "maybe"))
    as_json = web.post("/v1/auth/consent", json={"requestId": request_id, "decision": "approve"})
    assert "x-www-form-urlencoded" in _error_page(as_json)
    assert _answer(web, request_id, "approve").status_code == 303


def test_a_consent_request_expires(web: httpx.Client, sandbox_app: SandboxApp) -> None:
    request_id = _consent_page(web)
    start = time.time()
    sandbox_app.set_clock(lambda: start + 301)
    assert "expired" in _error_page(_answer(web, request_id, "approve"))


# --- code exchange ---------------------------------------------------------------------


@pytest.mark.sandbox(
    client_id=CLIENT,
    client_secret=SECRET,
    return_urls=REGISTERED,
    seed_contacts=[{"nickName": "seeded"}],
)
def test_a_code_buys_a_token_of_a_new_empty_account(web: httpx.Client, live_sandbox: str) -> None:
    code = _code(web, serviceType="Office365", scopes="Contacts.Read Contacts.ReadWrite")
    answer = _exchange(live_sandbox.removesuffix("/v1"), code)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == {"accountId", "accessToken"}
    assert isinstance(body["accountId"], int) and isinstance(body["accessToken"], str)
    token = body["accessToken"]
    assert token not in (TOKEN, OTHER_TOKEN) and len(token) >= 32
    with _client(live_sandbox, token) as api, _client(live_sandbox, TOKEN) as first:
        assert [r["nickName"] for r in first.get("/contacts").json()["records"]] == ["seeded"]
        started = api.post("/contacts/sync")
        assert started.status_code == 200 and started.json()["ready"] is True
        assert api.get("/contacts").json()["records"] == []
        assert api.post("/contacts", json={"nickName": "mine"}).status_code == 201
        assert [r["nickName"] for r in first.get("/contacts").json()["records"]] == ["seeded"]
        account = api.get("/account")
        assert account.status_code == 200
        info = account.json()
        assert info["id"] == body["accountId"] != first.get("/account").json()["id"]
        assert info["serviceType"] == info["serviceProvider"] == "Office365"
        assert info["authScopes"] == ["Contacts.Read", "Contacts.ReadWrite"]
        assert info["active"] is True and info["tokenStatus"] == "active"
        assert info["type"] == "personal" and info["daemon"] is False
        assert info["email"] == f"account{body['accountId']}@sandbox.invalid"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", info["createdAt"])
    # The admin endpoints take the new token as well.
    with _client(_root(live_sandbox), token) as admin:
        dumped = admin.get("/_sandbox/contacts").json()["contacts"]
        assert [c["nickName"] for c in dumped] == ["mine"]


def test_a_code_is_single_use(web: httpx.Client) -> None:
    code = _code(web)
    base = str(web.base_url)
    assert _exchange(base, code).status_code == 200
    again = _exchange(base, code)
    assert again.status_code == 400
    assert _envelope(again) | {"requestId": ""} == {
        "code": "code.invalid",
        "message": "The authorization code was already used",
        "requestId": "",
    }


def test_an_unknown_code_is_400(web: httpx.Client) -> None:
    refused = _exchange(str(web.base_url), "no-such-code")
    assert refused.status_code == 400
    assert _envelope(refused)["message"] == "Unknown authorization code"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer " + TOKEN,
        "Basic " + base64.b64encode(f"{CLIENT}:wrong".encode()).decode(),
        "Basic " + base64.b64encode(f"other:{SECRET}".encode()).decode(),
        "Basic " + base64.b64encode(CLIENT.encode()).decode(),
        "Basic !!not-base64!!",
        "Basic",
    ],
    ids=["missing", "bearer", "wrong-secret", "wrong-id", "no-colon", "not-base64", "empty"],
)
def test_bad_client_credentials_are_401_and_leave_the_code_usable(
    web: httpx.Client, authorization: str | None
) -> None:
    code = _code(web)
    headers = {"Authorization": authorization} if authorization else {}
    with _client(str(web.base_url)) as client:
        refused = client.post(f"/v1/auth/token/{code}", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Basic realm="aurinko"'
    assert _envelope(refused)["code"] == "unauthorized"
    assert _exchange(str(web.base_url), code).status_code == 200


def test_an_expired_code_is_400(web: httpx.Client, sandbox_app: SandboxApp) -> None:
    code = _code(web)
    start = time.time()
    sandbox_app.set_clock(lambda: start + 301)
    refused = _exchange(str(web.base_url), code)
    assert refused.status_code == 400
    assert _envelope(refused) | {"requestId": ""} == {
        "code": "code.invalid",
        "message": "The authorization code has expired",
        "requestId": "",
    }


@pytest.mark.sandbox(client_id=CLIENT, client_secret=SECRET, return_urls=REGISTERED, code_ttl=2.5)
def test_code_ttl_is_configurable(web: httpx.Client, sandbox_app: SandboxApp) -> None:
    code = _code(web)
    start = time.time()
    sandbox_app.set_clock(lambda: start + 3)
    assert _envelope(_exchange(str(web.base_url), code))["message"].endswith("has expired")


def test_a_code_of_another_client_is_400(sandbox_config: SandboxConfig) -> None:
    with serve_in_thread(sandbox_config) as running, _client(_root(running.url)) as web:
        code = _code(web)
    # The same database, served for another application.
    other = SandboxConfig(
        sandbox_config.db_path, sandbox_config.tokens, client_id="other-app", client_secret="x"
    )
    with serve_in_thread(other) as running:
        refused = _exchange(_root(running.url), code, auth=("other-app", "x"))
        assert refused.status_code == 400
        body = _envelope(refused)
        assert body["code"] == "code.invalid"
        assert body["message"] == "The authorization code was not issued to this client"
        assert CLIENT not in refused.text


def test_the_deprecated_get_exchange_works_once_like_post(web: httpx.Client) -> None:
    """OAS: "Get access token, Deprecated use POST instead" (the vendor's Java client uses
    it): it works, says it is deprecated, and a code still buys one token only."""
    code = _code(web)
    with _client(str(web.base_url)) as client:
        answer = client.get(f"/v1/auth/token/{code}", auth=(CLIENT, SECRET))
        assert answer.status_code == 200 and answer.headers["deprecation"] == "true"
        assert set(answer.json()) == {"accountId", "accessToken"}
        assert client.get(f"/v1/auth/token/{_code(web)}").status_code == 401  # no credentials
    assert _exchange(str(web.base_url), code).status_code == 400  # used


def _race(base: str, code: str) -> list[int]:
    """Statuses of two exchanges of ``code`` sent at the same moment."""
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def exchange() -> None:
        with _client(base) as client:
            barrier.wait()
            response = client.post(f"/v1/auth/token/{code}", auth=(CLIENT, SECRET))
            statuses.append(response.status_code)

    threads = [threading.Thread(target=exchange) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return statuses


def test_concurrent_exchanges_of_one_code_have_one_winner(web: httpx.Client) -> None:
    for _ in range(5):
        assert sorted(_race(str(web.base_url), _code(web))) == [200, 400]


def test_the_flow_is_never_faulted(web: httpx.Client, sandbox_app: SandboxApp) -> None:
    sandbox_app.set_faults(FaultConfig(error_rate=1, error_statuses=(503,), latency=0))
    account, token = _token(web)
    with _client(str(web.base_url) + "/v1", token) as api:
        assert api.get("/account").status_code == 503  # /v1/account is an API call like any
        sandbox_app.set_faults(FaultConfig())
        assert api.get("/account").json()["id"] == account


def test_codes_and_tokens_never_reach_the_log(
    web: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bridge.sandbox")
    code = _code(web)
    answer = _exchange(str(web.base_url), code)
    _exchange(str(web.base_url), code)
    assert caplog.records, "the sandbox should log requests at DEBUG"
    assert code not in caplog.text and answer.json()["accessToken"] not in caplog.text
    assert "/v1/auth/token/…" in caplog.text


# --- the accounts it makes -------------------------------------------------------------


def test_a_token_survives_a_restart_and_only_its_hash_is_stored(
    sandbox_config: SandboxConfig,
) -> None:
    with serve_in_thread(sandbox_config) as running, _client(_root(running.url)) as web:
        account, token = _token(web)
        with _client(running.url, token) as api:
            assert api.post("/contacts", json={"nickName": "kept"}).status_code == 201
    raw = b"".join(path.read_bytes() for path in Path(sandbox_config.db_path).parent.iterdir())
    assert b"kept" in raw and token.encode() not in raw
    with serve_in_thread(sandbox_config) as running, _client(running.url, token) as api:
        assert api.get("/account").json()["id"] == account
        assert [r["nickName"] for r in api.get("/contacts").json()["records"]] == ["kept"]


def test_delete_account_revokes_the_token(web: httpx.Client, live_sandbox: str) -> None:
    _, token = _token(web)
    with _client(live_sandbox, token) as api, _client(live_sandbox, TOKEN) as first:
        assert api.post("/contacts", json={"nickName": "gone"}).status_code == 201
        deleted = api.delete("/account")
        assert deleted.status_code == 200 and deleted.content == b""
        for method, path in [("GET", "/account"), ("GET", "/contacts"), ("POST", "/contacts/sync"),
                             ("DELETE", "/account")]:  # fmt: skip
            refused = api.request(method, path)
            assert refused.status_code == 401
            assert _envelope(refused)["code"] == "token.dead"
        assert first.get("/account").status_code == 200
    with _client(_root(live_sandbox), token) as admin:
        assert admin.get("/_sandbox/contacts").status_code == 401


def test_a_deleted_configured_account_comes_back_empty_after_a_restart(
    sandbox_config: SandboxConfig,
) -> None:
    with serve_in_thread(sandbox_config) as running, _client(running.url, TOKEN) as api:
        old = api.get("/account").json()["id"]
        assert api.post("/contacts", json={"nickName": "x"}).status_code == 201
        assert api.delete("/account").status_code == 200
        assert api.get("/contacts").status_code == 401
    with serve_in_thread(sandbox_config) as running, _client(running.url, TOKEN) as api:
        assert api.get("/account").json()["id"] > old
        assert api.get("/contacts").json()["records"] == []


def test_configured_accounts_describe_the_profile(
    live_sandbox: str, sandbox_app: SandboxApp
) -> None:
    with _client(live_sandbox, TOKEN) as api:
        info = api.get("/account").json()
        assert info["serviceType"] == info["serviceProvider"] == "Google"
        assert info["authScopes"] == ["Contacts.ReadWrite"] and info["tokenStatus"] == "active"
        assert "createdAt" in info and info["email"].endswith("@sandbox.invalid")
        sandbox_app.set_profile(name="office365")
        assert api.get("/account").json()["serviceType"] == "Office365"
    with _client(live_sandbox) as anonymous:
        assert _envelope(anonymous.get("/account"))["code"] == "unauthorized"


def test_a_database_from_before_the_flow_keeps_working(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
            " seq INTEGER NOT NULL DEFAULT 0, floor INTEGER NOT NULL DEFAULT 0,"
            " seeded INTEGER NOT NULL DEFAULT 0);"
        )
    conn.close()
    config = SandboxConfig(
        str(db), [TOKEN], client_id=CLIENT, client_secret=SECRET, return_urls=REGISTERED
    )
    with serve_in_thread(config) as running, _client(running.url, TOKEN) as api:
        assert api.get("/account").json()["createdAt"]
        with _client(_root(running.url)) as web:
            _, token = _token(web)
        with _client(running.url, token) as mine:
            assert mine.get("/account").status_code == 200


# --- configuration and command line ----------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"client_id": "a"}, "given together"),
        ({"client_secret": "a"}, "given together"),
        ({"client_id": "a:b", "client_secret": "s"}, "without ':'"),
        ({"client_id": "a", "client_secret": ""}, "must not be empty"),
        ({"return_urls": ("http://127.0.0.1/cb",)}, "need an OAuth application"),
        ({"client_id": "a", "client_secret": "s", "return_urls": ("ftp://x/",)}, "not usable"),
        ({"client_id": "a", "client_secret": "s", "code_ttl": 0}, "code_ttl"),
    ],
)
def test_bad_oauth_settings_are_refused(fields: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        SandboxConfig(":memory:", ["t"], **fields)


def test_cli_options_build_the_oauth_config() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = build_config(parser.parse_args([
        "--db", "x", "--token", "t", "--client-id", "c", "--client-secret", "s",
        "--return-url", "http://127.0.0.1:1/a", "--return-url", "https://x.example/b",
        "--code-ttl", "60",
    ]))  # fmt: skip
    assert (config.client_id, config.client_secret, config.code_ttl) == ("c", "s", 60)
    assert config.return_urls == ("http://127.0.0.1:1/a", "https://x.example/b")


def test_the_command_line_sandbox_serves_the_flow(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.sandbox", "--db", str(tmp_path / "s.db"), "--token", "t",
         "--client-id", CLIENT, "--client-secret", SECRET, "--return-url", RETURN],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"Aurinko sandbox listening on (http://127\.0\.0\.1:\d+)/v1\n", line)
        assert match is not None, (line, process.stderr)
        with _client(match.group(1)) as web:
            account, token = _token(web)
        with _client(match.group(1) + "/v1", token) as api:
            assert api.get("/account").json()["id"] == account
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0 and stderr == ""


# --- in a real browser -----------------------------------------------------------------


class _Callback:
    """The application's end of the flow: a loopback server that records its callbacks."""

    def __init__(self) -> None:
        self.queries: list[dict[str, list[str]]] = []
        received = self.queries

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/callback":
                    received.append(parse_qs(parts.query))
                body = b"<!DOCTYPE html><title>done</title><p>Done.</p>"
                self.send_response(200 if parts.path == "/callback" else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/callback"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def callback() -> Iterator[_Callback]:
    server = _Callback()
    yield server
    server.close()


def _in_browser(
    page: Page, sandbox_app: SandboxApp, live_sandbox: str, callback: _Callback, button: str
) -> dict[str, list[str]]:
    sandbox_app.register_return_url(callback.url)  # a free port: registered once known
    params = urlencode(_params(returnUrl=callback.url, state="browser-state"))
    page.goto(f"{_root(live_sandbox)}/v1/auth/authorize?{params}")
    assert "Google contacts" in page.inner_text("h1")
    page.click(button)
    page.wait_for_url(re.compile(re.escape(callback.url) + r"\?"))
    assert page.inner_text("p") == "Done."
    assert len(callback.queries) == 1
    return callback.queries[0]


def test_approving_in_a_browser_brings_a_code_back(
    page: Page, sandbox_app: SandboxApp, live_sandbox: str, callback: _Callback
) -> None:
    query = _in_browser(page, sandbox_app, live_sandbox, callback, "#approve")
    assert set(query) == {"code", "state"} and query["state"] == ["browser-state"]
    answer = _exchange(_root(live_sandbox), query["code"][0])
    assert answer.status_code == 200, answer.text


def test_denying_in_a_browser_brings_access_denied_back(
    page: Page, sandbox_app: SandboxApp, live_sandbox: str, callback: _Callback
) -> None:
    query = _in_browser(page, sandbox_app, live_sandbox, callback, "#deny")
    assert query == {
        "error": ["access_denied"],
        "error_description": ["The user denied access"],
        "state": ["browser-state"],
    }


# --- a dead grant, and re-authorizing the same account (issue 22) -------------------------


def test_a_killed_grant_refuses_contact_calls_and_says_so_in_the_account(
    web: httpx.Client, live_sandbox: str
) -> None:
    account_id, token = _token(web)
    with _client(live_sandbox, token) as api, _client(_root(live_sandbox), token) as admin:
        assert api.post("/contacts", json={"nickName": "kept"}).status_code == 201
        killed = admin.put("/_sandbox/account", json={"tokenStatus": "dead"})
        assert killed.status_code == 200 and killed.json()["tokenStatus"] == "dead"
        for refused in (api.get("/contacts"), api.post("/contacts/sync")):
            assert refused.status_code == 401
            assert _envelope(refused)["code"] == "token.refresh.failed"
        info = api.get("/account")  # needs no provider call: still answers
        assert info.status_code == 200 and info.json()["tokenStatus"] == "dead"
        assert info.json()["id"] == account_id
        admin.put("/_sandbox/account", json={"tokenStatus": "invalid"})
        assert api.get("/account").json()["tokenStatus"] == "invalid"
        assert _envelope(api.get("/contacts"))["code"] == "token.invalid"
        for bad in ({"tokenStatus": "gone"}, {}, {"tokenStatus": "dead", "x": 1}, ["dead"]):
            assert admin.put("/_sandbox/account", json=bad).status_code == 400


def test_consent_with_the_account_id_renews_the_same_account(
    web: httpx.Client, live_sandbox: str, sandbox_app: SandboxApp
) -> None:
    account_id, old = _token(web)
    with _client(live_sandbox, old) as api:
        assert api.post("/contacts", json={"nickName": "kept"}).status_code == 201
    sandbox_app.set_token_status(old, "dead")
    again, new = _token(web, accountId=str(account_id))
    assert again == account_id and new != old
    with _client(live_sandbox, new) as api, _client(live_sandbox, old) as stale:
        assert [r["nickName"] for r in api.get("/contacts").json()["records"]] == ["kept"]
        assert api.get("/account").json()["tokenStatus"] == "active"
        assert _envelope(stale.get("/contacts"))["code"] == "token.dead"  # the old one is gone


@pytest.mark.parametrize("account_id", ["999999", "abc", "-1"])
def test_consent_for_an_unknown_account_id_is_an_error_page(
    web: httpx.Client, account_id: str
) -> None:
    page = web.get("/v1/auth/authorize", params=_params(accountId=account_id))
    assert "accountId" in _error_page(page)


def test_deleting_the_token_kills_it_and_keeps_the_account_for_a_new_consent(
    web: httpx.Client, live_sandbox: str
) -> None:
    """OAS ``DELETE /v1/account/token``: "Delete the token and revoke all provider
    authentication data associated with it"."""
    account_id, token = _token(web)
    with _client(live_sandbox, token) as api:
        assert api.post("/contacts", json={"nickName": "kept"}).status_code == 201
        assert api.delete("/account/token").status_code == 200
        assert _envelope(api.get("/account"))["code"] == "token.dead"
    again, new = _token(web, accountId=str(account_id))
    with _client(live_sandbox, new) as api:
        assert again == account_id
        assert [r["nickName"] for r in api.get("/contacts").json()["records"]] == ["kept"]
        assert api.get("/account").json()["tokenStatus"] == "active"
