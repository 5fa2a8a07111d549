"""Bearer auth (401s), account isolation, and that tokens never reach a log line."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.sandbox.conftest import (
    OTHER_TOKEN,
    TOKEN,
    Api,
    create,
    error_of,
    make_app,
    run_chain,
    start_sync,
)

ENDPOINTS = [
    ("POST", "/contacts/sync"),
    ("GET", "/contacts/sync/updated?deltaToken=x"),
    ("GET", "/contacts/sync/deleted?deltaToken=x"),
    ("GET", "/contacts"),
    ("POST", "/contacts"),
    ("GET", "/contacts/some-id"),
    ("PATCH", "/contacts/some-id"),
    ("DELETE", "/contacts/some-id"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_missing_token_is_401_unauthorized(api: Api, method: str, path: str) -> None:
    response = api.client(token=None).request(method, path, json={})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_unknown_token_is_401_token_dead(api: Api, method: str, path: str) -> None:
    response = api.client(token="not-a-known-token").request(method, path, json={})
    assert response.status_code == 401
    assert error_of(response) | {"requestId": ""} == {
        "code": "token.dead",
        "message": "Not authorized",
        "requestId": "",
    }


def test_other_auth_schemes_are_401_unauthorized(api: Api) -> None:
    client = api.client(token=None)
    response = client.get("/contacts", headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


def test_each_account_sees_only_its_own_contacts(api: Api) -> None:
    alice, bob = api.client(TOKEN), api.client(OTHER_TOKEN)
    alice_sync, bob_sync = start_sync(alice), start_sync(bob)
    mine = create(alice, {"nickName": "alice's"})
    theirs = create(bob, {"nickName": "bob's"})
    cid = mine["id"]
    assert bob.get(f"/contacts/{cid}").status_code == 404
    patch = bob.patch(f"/contacts/{cid}", json={"notes": "x"}, headers={"If-Match": mine["etag"]})
    assert patch.status_code == 404
    assert bob.delete(f"/contacts/{cid}").status_code == 404
    assert alice.get(f"/contacts/{cid}").json()["etag"] == mine["etag"]  # untouched
    assert [r["id"] for r in bob.get("/contacts").json()["records"]] == [theirs["id"]]
    bob_records, _, _ = run_chain(bob, "updated", bob_sync["syncUpdatedToken"])
    assert [r["id"] for r in bob_records] == [theirs["id"]]
    alice_records, _, _ = run_chain(alice, "updated", alice_sync["syncUpdatedToken"])
    assert [r["id"] for r in alice_records] == [cid]
    assert [c["id"] for c in api.app.dump(OTHER_TOKEN)] == [theirs["id"]]


def test_bearer_tokens_never_reach_the_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bridge.sandbox")
    create(api.client(TOKEN))
    api.client("secret-unknown-token").get("/contacts")
    api.root_client(TOKEN).get("/_sandbox/contacts")
    assert caplog.records, "the sandbox should log requests at DEBUG"
    assert TOKEN not in caplog.text
    assert "secret-unknown-token" not in caplog.text


def test_bearer_tokens_are_not_stored_in_the_database(tmp_path: Path) -> None:
    app = make_app(db_path=str(tmp_path / "s.db"))
    transport = httpx.WSGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(transport=transport, base_url="http://s/v1", headers=headers) as client:
        create(client)
    app.close()
    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert b"nickName" in raw  # the data is there (not e.g. compressed)...
    assert TOKEN.encode() not in raw and OTHER_TOKEN.encode() not in raw  # ...the tokens not
