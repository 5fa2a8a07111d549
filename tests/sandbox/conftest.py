"""Shared fixtures: a sandbox app, and clients that reach it in-process or over a socket."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bridge.sandbox import RunningSandbox, SandboxApp, SandboxConfig, serve_in_thread

TOKEN = "alice-token-0123456789"
OTHER_TOKEN = "bob-token-9876543210"
PAGE_SIZE = 3
# Plain HTTP only; one shared context spares each client loading the CA bundle.
_TLS = ssl.create_default_context()


class Api:
    """One way of reaching a sandbox: ``kind`` is "wsgi" (in-process) or "socket"."""

    def __init__(self, app: SandboxApp, kind: str, running: RunningSandbox | None) -> None:
        self.app = app
        self.kind = kind
        self.running = running
        self.base_url = running.url if running else "http://sandbox.invalid/v1"
        self._clients: list[httpx.Client] = []

    def client(self, token: str | None = TOKEN, base_url: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = base_url or self.base_url
        if self.running is None:
            transport = httpx.WSGITransport(app=self.app)
            client = httpx.Client(transport=transport, base_url=url, headers=headers)
        else:
            # trust_env=False: no proxy from the environment may see loopback traffic.
            client = httpx.Client(
                base_url=url, headers=headers, trust_env=False, timeout=10, verify=_TLS
            )
        self._clients.append(client)
        return client

    def root_client(self, token: str | None = TOKEN) -> httpx.Client:
        """A client whose base URL is the server root (for /_sandbox and odd paths)."""
        return self.client(token, base_url=self.base_url.removesuffix("/v1"))

    def close(self) -> None:
        for client in self._clients:
            client.close()
        if self.running is not None:
            self.running.stop()


def make_app(**overrides: Any) -> SandboxApp:
    settings: dict[str, Any] = {
        "db_path": ":memory:",
        "tokens": [TOKEN, OTHER_TOKEN],
        "page_size": PAGE_SIZE,
    }
    settings.update(overrides)
    return SandboxApp(SandboxConfig(**settings))


@pytest.fixture
def app() -> Iterator[SandboxApp]:
    sandbox = make_app()
    yield sandbox
    sandbox.close()


def open_api(app: SandboxApp, kind: str) -> Api:
    return Api(app, kind, serve_in_thread(app) if kind == "socket" else None)


@pytest.fixture(params=["wsgi", "socket"])
def api(request: pytest.FixtureRequest, app: SandboxApp) -> Iterator[Api]:
    handle = open_api(app, request.param)
    yield handle
    handle.close()


@pytest.fixture
def client(api: Api) -> httpx.Client:
    return api.client()


def create(client: httpx.Client, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a contact and return the ``ContactOrId`` answer."""
    response = client.post("/contacts", json=body if body is not None else {"nickName": "x"})
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def start_sync(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/contacts/sync")
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    assert status["ready"] is True
    return status


def run_chain(
    client: httpx.Client, chain: str, delta_token: str
) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    """Follow one run to its end: (all records, nextDeltaToken, every page)."""
    pages = []
    response = client.get(f"/contacts/sync/{chain}", params={"deltaToken": delta_token})
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        if "nextDeltaToken" in page:
            assert "nextPageToken" not in page
            records = [record for p in pages for record in p["records"]]
            return records, page["nextDeltaToken"], pages
        # Follow-up pages carry only the page token, as the vendor client does.
        response = client.get(
            f"/contacts/sync/{chain}", params={"pageToken": page["nextPageToken"]}
        )


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error envelope, checked for shape."""
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "requestId"}, body
    return body


@pytest.fixture
def local_client(app: SandboxApp) -> Iterator[httpx.Client]:
    """An in-process client only, for the many cases that do not depend on a socket."""
    handle = open_api(app, "wsgi")
    yield handle.client()
    handle.close()
