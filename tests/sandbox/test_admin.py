"""Test hooks over HTTP (/_sandbox/*) and as Python methods."""

from __future__ import annotations

import httpx
import pytest

from bridge.sandbox import FaultConfig
from tests.sandbox.conftest import OTHER_TOKEN, TOKEN, Api, create, error_of, run_chain, start_sync
from tests.sandbox.test_contacts import PNG


@pytest.fixture
def admin(api: Api) -> httpx.Client:
    return api.root_client()


def test_dump_lists_live_contacts_with_photos(api: Api, admin: httpx.Client) -> None:
    client = api.client()
    kept = create(client, {"nickName": "kept", "photo": {"mimeType": "image/png", "content": PNG}})
    gone = create(client, {"nickName": "gone"})
    client.delete(f"/contacts/{gone['id']}")
    create(api.client(OTHER_TOKEN), {"nickName": "other account"})
    response = admin.get("/_sandbox/contacts")
    assert response.status_code == 200
    contacts = response.json()["contacts"]
    assert [c["id"] for c in contacts] == [kept["id"]]
    assert contacts[0]["photo"]["content"] == PNG
    assert api.app.dump(TOKEN) == contacts


def test_compact_endpoint_compacts_the_callers_account(api: Api, admin: httpx.Client) -> None:
    client = api.client()
    create(client)
    status = start_sync(client)
    _, token, _ = run_chain(client, "updated", status["syncUpdatedToken"])
    create(client)
    response = admin.post("/_sandbox/compact")
    assert response.status_code == 200 and response.json() == {"floor": 2}
    expired = client.get("/contacts/sync/updated", params={"deltaToken": token})
    assert expired.status_code == 410


def test_faults_endpoint_reads_and_replaces_the_settings(api: Api, admin: httpx.Client) -> None:
    current = admin.get("/_sandbox/faults").json()
    assert current["error_rate"] == 0 and current["error_statuses"] == [429, 500, 503]
    body = {"error_rate": 1, "error_statuses": [503], "retry_after": 3, "seed": 9}
    answer = admin.put("/_sandbox/faults", json=body)
    assert answer.status_code == 200 and answer.json()["error_statuses"] == [503]
    assert api.app.faults == FaultConfig(error_rate=1, error_statuses=(503,), retry_after=3, seed=9)
    response = api.client().get("/contacts")
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    # What GET answers can be changed and PUT back.
    settings = admin.get("/_sandbox/faults").json() | {"not_ready_count": 2}
    assert admin.put("/_sandbox/faults", json=settings).json()["not_ready_left"] == 2
    # PUT replaces everything: keys left out go back to their defaults.
    assert admin.put("/_sandbox/faults", json={}).status_code == 200
    assert api.app.faults == FaultConfig()
    assert api.client().get("/contacts").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"error_rate": 2},
        {"error_rate": "high"},
        {"nope": 1},
        {"error_statuses": "429"},
        [1],
        {"seed": 1.5},
    ],
)
def test_faults_endpoint_rejects_bad_settings(api: Api, admin: httpx.Client, body: object) -> None:
    response = admin.put("/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "badRequest"
    assert api.app.faults == FaultConfig()


def test_admin_endpoints_are_never_faulted(api: Api, admin: httpx.Client) -> None:
    api.app.set_faults(error_rate=1.0, drop_rate=1.0, drop_after_rate=1.0, latency=0.0)
    assert admin.get("/_sandbox/faults").status_code == 200
    assert admin.get("/_sandbox/contacts").status_code == 200
    assert admin.post("/_sandbox/compact").status_code == 200
    assert admin.put("/_sandbox/faults", json={}).status_code == 200
    assert api.client().get("/contacts").status_code == 200


def test_admin_endpoints_need_a_known_bearer_token(api: Api) -> None:
    for token, code in ((None, "unauthorized"), ("wrong", "token.dead")):
        client = api.root_client(token)
        for method, path in (
            ("GET", "/_sandbox/contacts"),
            ("POST", "/_sandbox/compact"),
            ("GET", "/_sandbox/faults"),
            ("PUT", "/_sandbox/faults"),
        ):
            response = client.request(method, path, json={})
            assert response.status_code == 401
            assert error_of(response)["code"] == code


def test_python_hooks_reject_an_unknown_token(api: Api) -> None:
    with pytest.raises(ValueError):
        api.app.dump("wrong")
    with pytest.raises(ValueError):
        api.app.compact_history("wrong")
