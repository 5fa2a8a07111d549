"""Full and incremental sync through the client, page by page, against the sandbox."""

from __future__ import annotations

from bridge.aurinko import AurinkoClient, DeletedPage, UpdatedPage
from bridge.sandbox import SandboxApp
from tests.conftest import OTHER_TOKEN, TOKEN


def _contact(i: int) -> dict[str, object]:
    return {
        "name": {
            "givenName": f"Given{i}",
            "familyName": f"Family{i}",
            "displayName": f"Person {i}",
        },
        "emailAddresses": [{"address": f"p{i}@example.com", "type": "work"}],
    }


def _drain_updated(client: AurinkoClient, token: str) -> tuple[list[UpdatedPage], str]:
    pages = list(client.iter_updated(token))
    assert all(p.next_delta_token is None for p in pages[:-1])
    assert pages[-1].next_page_token is None
    assert pages[-1].next_delta_token
    return pages, pages[-1].next_delta_token


def _drain_deleted(client: AurinkoClient, token: str) -> tuple[list[DeletedPage], str]:
    pages = list(client.iter_deleted(token))
    assert pages[-1].next_page_token is None and pages[-1].next_delta_token
    return pages, pages[-1].next_delta_token


def test_initial_sync_pages_through_every_contact(client: AurinkoClient) -> None:
    created = {client.create(_contact(i)).id for i in range(17)}
    start = client.start_sync()
    pages, _ = _drain_updated(client, start.updated_token)
    ids = [r["id"] for p in pages for r in p.records]
    assert len(pages) >= 6  # page size 3: paging is really exercised
    assert sorted(ids) == sorted(created)
    deleted_pages, _ = _drain_deleted(client, start.deleted_token)
    assert [r for p in deleted_pages for r in p.records] == []


def test_incremental_sync_sees_creates_patches_and_deletes(client: AurinkoClient) -> None:
    ids = [client.create(_contact(i)).id for i in range(8)]
    start = client.start_sync()
    _, updated_token = _drain_updated(client, start.updated_token)
    _, deleted_token = _drain_deleted(client, start.deleted_token)

    new = client.create(_contact(100))
    current = client.get(ids[2])
    client.update(ids[2], {"nickName": "Patched"}, etag=current["etag"])
    client.delete(ids[5])

    pages, next_updated = _drain_updated(client, updated_token)
    changed = {r["id"]: r for p in pages for r in p.records}
    assert set(changed) == {new.id, ids[2]}
    assert changed[ids[2]]["nickName"] == "Patched"
    deleted_pages, next_deleted = _drain_deleted(client, deleted_token)
    assert [r.id for p in deleted_pages for r in p.records] == [ids[5]]
    assert all(r.timestamp for p in deleted_pages for r in p.records)

    # Nothing changed since: both chains answer one empty page with a token.
    quiet, _ = _drain_updated(client, next_updated)
    assert [r for p in quiet for r in p.records] == []
    quiet_deleted, _ = _drain_deleted(client, next_deleted)
    assert [r for p in quiet_deleted for r in p.records] == []


def test_sync_sees_only_its_own_account(
    client: AurinkoClient, make_client, sandbox_app: SandboxApp
) -> None:
    other = make_client(OTHER_TOKEN)
    mine = client.create(_contact(1)).id
    other.create(_contact(2))
    pages, _ = _drain_updated(client, client.start_sync().updated_token)
    assert [r["id"] for p in pages for r in p.records] == [mine]
    assert TOKEN != OTHER_TOKEN


def test_not_ready_sync_start_is_polled_with_backoff(
    client: AurinkoClient, sandbox_app: SandboxApp, sleeps
) -> None:
    sandbox_app.set_faults(not_ready_count=3)
    start = client.start_sync()
    assert start.updated_token and start.deleted_token
    assert len(sleeps.calls) == 3
