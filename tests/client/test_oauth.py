"""The app-level OAuth client: the authorize address and the code exchange's answers."""

from __future__ import annotations

import base64
import urllib.parse

import httpx
import pytest

from bridge.aurinko import (
    AurinkoError,
    BadRequestError,
    ProtocolError,
    UnauthorizedError,
    UnavailableError,
)
from bridge.aurinko.oauth import LinkedAccount, authorize_url, exchange_code

BASE = "https://api.example/v1/"


def test_authorize_url_follows_the_contract() -> None:
    url = authorize_url(BASE, "app id", "Office365", "http://127.0.0.1:8765/callback", "s&t=1")
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://api.example/v1/auth/authorize"
    assert urllib.parse.parse_qs(parts.query) == {
        "clientId": ["app id"],
        "serviceType": ["Office365"],
        "scopes": ["Contacts.Read Contacts.ReadWrite"],
        "responseType": ["code"],
        "returnUrl": ["http://127.0.0.1:8765/callback"],
        "state": ["s&t=1"],
        "ensureScopes": ["true"],
    }
    assert "+" not in parts.query  # spaces as %20
    again = authorize_url(BASE, "a", "Google", "http://127.0.0.1:1/callback", "s", account_id=42)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(again).query)["accountId"] == ["42"]


def _exchange(handler: httpx.MockTransport, code: str = "c/1 2") -> LinkedAccount:
    return exchange_code(BASE, "app", "s3cret", code, transport=handler)


def test_the_exchange_posts_the_code_with_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"accountId": 42, "accessToken": "tok", "userId": "u"})

    linked = _exchange(httpx.MockTransport(answer))
    assert linked == LinkedAccount(account_id=42, access_token="tok")
    assert "tok" not in repr(linked)
    (request,) = seen
    assert request.method == "POST" and request.content == b""
    assert request.url.raw_path == b"/v1/auth/token/c%2F1%202"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"app:s3cret").decode()


@pytest.mark.parametrize(
    ("response", "error", "words"),
    [
        (
            httpx.Response(
                401, json={"code": "auth.invalid", "message": "Bad app", "requestId": "r1"}
            ),
            UnauthorizedError,
            "HTTP 401 auth.invalid: Bad app [request r1]",
        ),
        (
            httpx.Response(400, json={"code": "code.invalid", "message": "Used code"}),
            BadRequestError,
            "HTTP 400 code.invalid: Used code",
        ),
        (httpx.Response(404), BadRequestError, "HTTP 404"),
        (httpx.Response(503, text="down"), UnavailableError, "HTTP 503"),
        (httpx.Response(429), UnavailableError, "HTTP 429"),
        (httpx.Response(200, text="<html>"), ProtocolError, "not JSON"),
        (httpx.Response(200, json=[1]), ProtocolError, "not a JSON object"),
        (httpx.Response(200, json={"accountId": 1}), ProtocolError, "no accessToken"),
        (httpx.Response(200, json={"accessToken": " "}), ProtocolError, "no accessToken"),
    ],
)
def test_each_failure_is_typed_and_never_names_the_code(
    response: httpx.Response, error: type[AurinkoError], words: str
) -> None:
    with pytest.raises(error) as raised:
        _exchange(httpx.MockTransport(lambda request: response), code="secret-code")
    assert words in str(raised.value)
    assert "secret-code" not in str(raised.value) and "s3cret" not in str(raised.value)


def test_no_answer_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(UnavailableError, match="ConnectError"):
        _exchange(httpx.MockTransport(refuse))


def test_a_missing_account_id_is_none() -> None:
    answer = httpx.Response(200, json={"accountId": "x", "accessToken": "tok"})
    assert _exchange(httpx.MockTransport(lambda request: answer)).account_id is None
