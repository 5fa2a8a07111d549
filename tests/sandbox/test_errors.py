"""The error envelope everywhere: unknown paths, wrong methods, internal failures."""

from __future__ import annotations

import uuid

import pytest

from bridge.sandbox import SandboxApp
from tests.sandbox.conftest import Api, error_of


@pytest.mark.parametrize(
    "path", ["/", "/v2/contacts", "/v1", "/v1/", "/v1/calendars", "/v1/contacts/a/b", "/_sandbox/x"]
)
def test_unknown_paths_are_404_in_the_envelope(api: Api, path: str) -> None:
    response = api.root_client().get(path)
    assert response.status_code == 404
    body = error_of(response)
    assert body["code"] == "notFound"
    assert uuid.UUID(body["requestId"]).version == 4


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/contacts/sync", "POST"),
        ("POST", "/v1/contacts/sync/updated", "GET"),
        ("DELETE", "/v1/contacts/sync/deleted", "GET"),
        ("PUT", "/v1/contacts", "GET, POST"),
        ("POST", "/v1/contacts/some-id", "DELETE, GET, PATCH"),
        ("DELETE", "/_sandbox/faults", "GET, PUT"),
    ],
)
def test_wrong_methods_are_405_with_allow(api: Api, method: str, path: str, allowed: str) -> None:
    response = api.root_client().request(method, path)
    assert response.status_code == 405
    assert error_of(response)["code"] == "methodNotAllowed"
    assert response.headers["Allow"] == allowed


def test_every_error_has_its_own_request_id(api: Api) -> None:
    client = api.client()
    ids = {error_of(client.get("/contacts/x"))["requestId"] for _ in range(5)}
    assert len(ids) == 5


def test_an_internal_failure_is_a_500_envelope_without_a_traceback(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("boom: secret internals")

    monkeypatch.setattr(api.app._store, "get", explode)
    response = api.client().get("/contacts/anything")
    assert response.status_code == 500
    body = error_of(response)
    assert body["code"] == "internalError"
    assert "Traceback" not in response.text and "boom" not in response.text


def test_a_bad_content_length_is_400(app: SandboxApp) -> None:
    captured: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured.append(status)

    body = app(
        {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/contacts", "CONTENT_LENGTH": "abc"},
        start_response,
    )
    assert captured == ["400 Bad Request"]
    assert b"badRequest" in b"".join(body)
