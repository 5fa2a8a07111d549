"""Sync: start, full load, incremental runs on both chains, paging, token validity."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest

from bridge.sandbox import SandboxApp
from tests.sandbox.conftest import (
    OTHER_TOKEN,
    PAGE_SIZE,
    Api,
    create,
    error_of,
    make_app,
    open_api,
    run_chain,
    start_sync,
)

URL_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records]


def _patch(client: httpx.Client, contact: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    response = client.patch(
        f"/contacts/{contact['id']}", json=body, headers={"If-Match": contact["etag"]}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _page(client: httpx.Client, chain: str, **params: str) -> httpx.Response:
    return client.get(f"/contacts/sync/{chain}", params=params)


def test_sync_start_answers_ready_with_two_url_safe_tokens(client: httpx.Client) -> None:
    status = start_sync(client)
    assert set(status) == {"syncUpdatedToken", "syncDeletedToken", "ready"}
    assert URL_SAFE.match(status["syncUpdatedToken"])
    assert URL_SAFE.match(status["syncDeletedToken"])
    assert status["syncUpdatedToken"] != status["syncDeletedToken"]


def test_full_initial_load_pages_every_live_contact_once(client: httpx.Client) -> None:
    contacts = [create(client, {"nickName": f"c{i}"}) for i in range(25)]
    client.delete(f"/contacts/{contacts[0]['id']}")
    status = start_sync(client)
    records, delta, pages = run_chain(client, "updated", status["syncUpdatedToken"])
    assert sorted(_ids(records)) == sorted(c["id"] for c in contacts[1:])
    assert len(pages) == 8  # 24 records, 3 per page
    for page in pages[:-1]:
        assert page["length"] == len(page["records"]) == PAGE_SIZE
        assert "nextPageToken" in page and "nextDeltaToken" not in page
        assert URL_SAFE.match(page["nextPageToken"])
    assert pages[-1]["length"] == len(pages[-1]["records"])
    assert URL_SAFE.match(delta)
    assert {r["nickName"] for r in records} == {f"c{i}" for i in range(1, 25)}
    assert all("etag" in r and "hasPhoto" in r for r in records)


def test_first_deleted_run_holds_only_deletions_since_the_start(client: httpx.Client) -> None:
    before, during, kept = (create(client) for _ in range(3))
    client.delete(f"/contacts/{before['id']}")
    status = start_sync(client)
    client.delete(f"/contacts/{during['id']}")
    records, _, _ = run_chain(client, "deleted", status["syncDeletedToken"])
    assert _ids(records) == [during["id"]]
    assert set(records[0]) == {"id", "timestamp"}
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", records[0]["timestamp"])
    updated, _, _ = run_chain(client, "updated", status["syncUpdatedToken"])
    assert _ids(updated) == [kept["id"]]  # deleted during the run: not "updated"


def test_first_updated_run_includes_changes_made_after_the_start(client: httpx.Client) -> None:
    old = create(client)
    status = start_sync(client)
    new = create(client)
    records, _, _ = run_chain(client, "updated", status["syncUpdatedToken"])
    assert sorted(_ids(records)) == sorted([old["id"], new["id"]])


def test_incremental_runs_hold_exactly_what_changed(api: Api) -> None:
    client, other_writer = api.client(), api.client()
    contacts = [create(client, {"nickName": f"c{i}"}) for i in range(25)]
    status = start_sync(client)
    _, updated_token, _ = run_chain(client, "updated", status["syncUpdatedToken"])
    _, deleted_token, _ = run_chain(client, "deleted", status["syncDeletedToken"])

    created = [create(client, {"nickName": "new"}), create(other_writer, {"nickName": "new2"})]
    patched = _patch(other_writer, contacts[3], {"notes": "changed"})
    _patch(client, contacts[4], {"notes": "own write"})
    client.delete(f"/contacts/{contacts[5]['id']}")
    other_writer.delete(f"/contacts/{contacts[6]['id']}")

    updated, updated_token2, _ = run_chain(client, "updated", updated_token)
    expected = [created[0]["id"], created[1]["id"], contacts[3]["id"], contacts[4]["id"]]
    assert _ids(updated) == expected
    assert updated[2]["notes"] == "changed" and updated[2]["etag"] == patched["etag"]
    deleted, deleted_token2, _ = run_chain(client, "deleted", deleted_token)
    assert _ids(deleted) == [contacts[5]["id"], contacts[6]["id"]]

    # Nothing more happened: the next runs are empty, yet still hand out a delta token.
    assert run_chain(client, "updated", updated_token2)[0] == []
    assert run_chain(client, "deleted", deleted_token2)[0] == []


def test_a_contact_deleted_after_its_update_leaves_the_updated_chain(
    client: httpx.Client,
) -> None:
    status = start_sync(client)
    contact = create(client)
    _patch(client, contact, {"notes": "x"})
    client.delete(f"/contacts/{contact['id']}")
    assert run_chain(client, "updated", status["syncUpdatedToken"])[0] == []
    assert _ids(run_chain(client, "deleted", status["syncDeletedToken"])[0]) == [contact["id"]]


def test_the_two_chains_are_independent(client: httpx.Client) -> None:
    status = start_sync(client)
    contact = create(client)
    # Run the updated chain several times; the deleted chain's token is unaffected.
    _, updated_token, _ = run_chain(client, "updated", status["syncUpdatedToken"])
    run_chain(client, "updated", updated_token)
    client.delete(f"/contacts/{contact['id']}")
    deleted, _, _ = run_chain(client, "deleted", status["syncDeletedToken"])
    assert _ids(deleted) == [contact["id"]]
    # And draining deletions does not consume updates.
    assert _ids(run_chain(client, "updated", status["syncUpdatedToken"])[0]) == []
    assert run_chain(client, "updated", updated_token)[0] == []


def test_a_delta_token_can_be_replayed(client: httpx.Client) -> None:
    status = start_sync(client)
    _, token, _ = run_chain(client, "updated", status["syncUpdatedToken"])
    contact = create(client)
    first = run_chain(client, "updated", token)[0]
    second = run_chain(client, "updated", token)[0]
    assert _ids(first) == _ids(second) == [contact["id"]]


def test_empty_pages_still_carry_a_delta_token(client: httpx.Client) -> None:
    status = start_sync(client)
    for chain in ("updated", "deleted"):
        key = "syncUpdatedToken" if chain == "updated" else "syncDeletedToken"
        page = _page(client, chain, deltaToken=status[key]).json()
        assert page["length"] == 0 and page["records"] == []
        assert URL_SAFE.match(page["nextDeltaToken"]) and "nextPageToken" not in page


def test_a_contact_changed_while_paging_shows_up_in_the_next_run(client: httpx.Client) -> None:
    contacts = [create(client, {"nickName": f"c{i}"}) for i in range(9)]
    status = start_sync(client)
    first = _page(client, "updated", deltaToken=status["syncUpdatedToken"]).json()
    seen = _ids(first["records"])
    # Change one contact already delivered and one not delivered yet, and add one.
    _patch(client, contacts[0], {"notes": "after page 1"})
    _patch(client, contacts[7], {"notes": "before its page"})
    added = create(client)
    token = first["nextPageToken"]
    while True:
        page = _page(client, "updated", pageToken=token).json()
        seen += _ids(page["records"])
        if "nextDeltaToken" in page:
            break
        token = page["nextPageToken"]
    assert sorted(seen) == sorted(c["id"] for c in contacts if c is not contacts[7])
    following, _, _ = run_chain(client, "updated", page["nextDeltaToken"])
    assert _ids(following) == [contacts[0]["id"], contacts[7]["id"], added["id"]]
    assert following[1]["notes"] == "before its page"


def test_tokens_are_rejected_in_the_wrong_parameter_or_chain(api: Api) -> None:
    client = api.client()
    for _ in range(4):
        create(client)
    status = start_sync(client)
    first = _page(client, "updated", deltaToken=status["syncUpdatedToken"]).json()
    page_token = first["nextPageToken"]
    list_token = client.get("/contacts").json()["nextPageToken"]
    cases = [
        ("updated", {"deltaToken": page_token}),  # a page token as delta token
        ("updated", {"pageToken": status["syncUpdatedToken"]}),  # and vice versa
        ("deleted", {"deltaToken": status["syncUpdatedToken"]}),  # the other chain's
        ("updated", {"deltaToken": status["syncDeletedToken"]}),
        ("deleted", {"pageToken": page_token}),
        ("updated", {"pageToken": list_token}),
    ]
    for chain, params in cases:
        response = _page(client, chain, **params)
        assert response.status_code == 400, (chain, params)
        assert error_of(response)["code"] == "token.notValid"


def _tamper(token: str) -> str:
    body, _, signature = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["s"] = 0 if payload["s"] else 5
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: "garbage",
        lambda t: "a.b",
        lambda t: "....",
        lambda t: t[:-3],
        lambda t: t + "x",
        lambda t: t.replace(".", ""),
        lambda t: "é" + t,
        _tamper,
    ],
    ids=[
        "garbage",
        "dots",
        "only-dots",
        "truncated",
        "extended",
        "no-dot",
        "non-ascii",
        "tampered",
    ],
)
def test_malformed_or_tampered_tokens_are_400_token_not_valid(
    local_client: httpx.Client, mangle: Any
) -> None:
    status = start_sync(local_client)
    for chain, key in (("updated", "syncUpdatedToken"), ("deleted", "syncDeletedToken")):
        for param in ("deltaToken", "pageToken"):
            response = _page(local_client, chain, **{param: mangle(status[key])})
            assert response.status_code == 400
            assert error_of(response)["code"] == "token.notValid"


def test_another_accounts_tokens_are_400_token_not_valid(api: Api) -> None:
    alice, bob = api.client(), api.client(OTHER_TOKEN)
    for _ in range(4):
        create(alice)
    status = start_sync(alice)
    page_token = _page(alice, "updated", deltaToken=status["syncUpdatedToken"]).json()
    for params in (
        {"deltaToken": status["syncUpdatedToken"]},
        {"pageToken": page_token["nextPageToken"]},
    ):
        response = _page(bob, "updated", **params)
        assert response.status_code == 400
        assert error_of(response)["code"] == "token.notValid"
    assert _page(bob, "deleted", deltaToken=status["syncDeletedToken"]).status_code == 400


def test_a_token_from_another_database_is_400_token_not_valid(app: SandboxApp) -> None:
    other = make_app()
    try:
        foreign = start_sync(open_api(other, "wsgi").client())["syncUpdatedToken"]
    finally:
        other.close()
    response = _page(open_api(app, "wsgi").client(), "updated", deltaToken=foreign)
    assert response.status_code == 400
    assert error_of(response)["code"] == "token.notValid"


def test_missing_or_doubled_token_parameters_are_400(local_client: httpx.Client) -> None:
    status = start_sync(local_client)
    token = status["syncUpdatedToken"]
    neither = _page(local_client, "updated")
    both = _page(local_client, "updated", deltaToken=token, pageToken=token)
    for response in (neither, both):
        assert response.status_code == 400
        assert error_of(response)["code"] == "badRequest"
    assert "deltaToken" in error_of(neither)["message"]


def _expired(response: httpx.Response) -> None:
    assert response.status_code == 410, response.text
    body = error_of(response)
    assert body["code"] == "syncToken.expired" and body["message"] == "syncToken expired."


def test_tokens_expire_after_the_ttl(api: Api) -> None:
    app = make_app(token_ttl=3600)
    handle = open_api(app, api.kind)
    try:
        now = [1_700_000_000.0]
        app.set_clock(lambda: now[0])
        client = handle.client()
        for _ in range(4):
            create(client)
        status = start_sync(client)
        first = _page(client, "updated", deltaToken=status["syncUpdatedToken"]).json()
        _, deleted_token, _ = run_chain(client, "deleted", status["syncDeletedToken"])
        now[0] += 3600  # exactly the TTL: still valid
        assert _page(client, "updated", pageToken=first["nextPageToken"]).status_code == 200
        now[0] += 1
        _expired(_page(client, "updated", deltaToken=status["syncUpdatedToken"]))
        _expired(_page(client, "updated", pageToken=first["nextPageToken"]))
        _expired(_page(client, "deleted", deltaToken=deleted_token))
        # The documented fix works: start again.
        fresh = start_sync(client)
        assert len(run_chain(client, "updated", fresh["syncUpdatedToken"])[0]) == 4
    finally:
        handle.close()
        app.close()


def test_compaction_expires_incremental_tokens_but_not_the_full_load(api: Api) -> None:
    client = api.client()
    contacts = [create(client) for _ in range(5)]
    status = start_sync(client)
    _, updated_token, _ = run_chain(client, "updated", status["syncUpdatedToken"])
    client.delete(f"/contacts/{contacts[0]['id']}")
    full_page = _page(client, "updated", deltaToken=status["syncUpdatedToken"]).json()
    deleted_page = _page(client, "deleted", deltaToken=status["syncDeletedToken"]).json()
    assert "nextDeltaToken" in deleted_page  # one deletion: a one-page run
    _, deleted_token, _ = run_chain(client, "deleted", status["syncDeletedToken"])

    api.app.compact_history()

    _expired(_page(client, "updated", deltaToken=updated_token))
    _expired(_page(client, "deleted", deltaToken=status["syncDeletedToken"]))
    # Runs from tokens issued at the current sequence lose nothing: still valid.
    assert _page(client, "deleted", deltaToken=deleted_token).json()["records"] == []
    assert _page(client, "deleted", deltaToken=deleted_page["nextDeltaToken"]).status_code == 200
    # The initial full load needs no history, and neither do its pages.
    records, _, _ = run_chain(client, "updated", status["syncUpdatedToken"])
    assert sorted(_ids(records)) == sorted(c["id"] for c in contacts[1:])
    assert _page(client, "updated", pageToken=full_page["nextPageToken"]).status_code == 200
    # After compaction the tombstone is gone: a new sync and new deletions work as usual.
    fresh = start_sync(client)
    client.delete(f"/contacts/{contacts[1]['id']}")
    assert _ids(run_chain(client, "deleted", fresh["syncDeletedToken"])[0]) == [contacts[1]["id"]]


def test_compaction_of_one_account_leaves_the_others_tokens_alone(api: Api) -> None:
    alice, bob = api.client(), api.client(OTHER_TOKEN)
    create(alice)
    create(bob)
    alice_token = run_chain(alice, "updated", start_sync(alice)["syncUpdatedToken"])[1]
    bob_token = run_chain(bob, "updated", start_sync(bob)["syncUpdatedToken"])[1]
    create(alice)
    create(bob)
    api.app.compact_history(token=OTHER_TOKEN)
    assert _page(alice, "updated", deltaToken=alice_token).status_code == 200
    _expired(_page(bob, "updated", deltaToken=bob_token))
