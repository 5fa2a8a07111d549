"""Pulling from Aurinko: initial load, increments, echoes, expiry and resync."""

from __future__ import annotations

import pytest

from bridge.mapping import from_vcard
from bridge.sync.reports import words
from tests.sync.conftest import Env, assert_store_matches_sandbox


def _person(i: int) -> dict[str, object]:
    return {
        "name": {"givenName": f"Given{i}", "familyName": f"Fámily{i}", "displayName": f"P {i}"},
        "emailAddresses": [{"address": f"p{i}@example.com", "type": "work"}],
        "phoneNumbers": [{"number": f"+1 555 {i:04d}", "type": "mobile"}],
        "notes": f"note {i}\nsecond line",
    }


@pytest.mark.slow
@pytest.mark.sandbox(page_size=40, seed_contacts=[_person(i) for i in range(2500)])
def test_initial_sync_of_thousands_pages_through_all(env: Env) -> None:
    counted: list[int] = []
    report = env.engine.pull(env.book, progress=counted.append)
    assert report.error is None
    assert report.created == 2500
    assert sum(counted) == 2500 and len(counted) > 60  # page by page, page size 40
    assert env.engine.store.count(env.book.id) == 2500
    assert_store_matches_sandbox(env)
    item = env.engine.store.list_items(env.book.id)[0]
    parsed = from_vcard(item.vcard)
    assert parsed.uid == item.uid


def test_incremental_pull_applies_remote_creates_patches_and_deletes(env: Env) -> None:
    ids = [env.remote.create(_person(i)).id for i in range(6)]
    env.engine.pull(env.book)
    seq = env.engine.store.current_seq(env.book.id)
    hrefs = {r.remote_id: r.href for r in _rows(env)}

    new = env.remote.create(_person(99)).id
    current = env.remote.get(ids[1])
    env.remote.update(ids[1], {"nickName": "Bobby"}, etag=current["etag"])
    env.remote.delete(ids[2])
    report = env.engine.pull(env.book)

    assert (report.created, report.updated, report.deleted) == (1, 1, 1)
    assert not report.full_resync
    _, changed = env.engine.changes_since(env.book, seq)
    new_href = {r.remote_id: r.href for r in _rows(env)}[new]
    assert set(changed) == {new_href, hrefs[ids[1]], hrefs[ids[2]]}
    assert "NICKNAME:Bobby" in env.card(hrefs[ids[1]])
    assert env.engine.store.get(env.book.id, hrefs[ids[2]]) is None
    assert_store_matches_sandbox(env)


def test_unchanged_pull_logs_nothing(env: Env) -> None:
    for i in range(4):
        env.remote.create(_person(i))
    env.engine.pull(env.book)
    seq = env.engine.store.current_seq(env.book.id)
    report = env.engine.pull(env.book)
    assert (report.created, report.updated, report.deleted) == (0, 0, 0)
    assert env.engine.changes_since(env.book, seq) == (seq, [])


def test_expired_token_resyncs_without_duplicates_or_lost_deletions(env: Env) -> None:
    ids = [env.remote.create(_person(i)).id for i in range(10)]
    env.engine.pull(env.book)
    before = {r.remote_id: (r.href, r.uid) for r in _rows(env)}

    env.remote.delete(ids[0])
    current = env.remote.get(ids[3])
    env.remote.update(ids[3], {"nickName": "Changed"}, etag=current["etag"])
    extra = env.remote.create(_person(50)).id
    env.sandbox.compact_history()  # the saved delta tokens are now too old
    report = env.engine.pull(env.book)

    assert report.full_resync
    assert report.error is None
    after = {r.remote_id: (r.href, r.uid) for r in _rows(env)}
    assert ids[0] not in after
    assert extra in after
    assert all(after[i] == before[i] for i in ids[1:])  # hrefs and UIDs are stable
    assert "NICKNAME:Changed" in env.card(after[ids[3]][0])
    assert_store_matches_sandbox(env)


def test_photo_is_fetched_for_contacts_that_have_one(env: Env) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    photo = {"name": "p.png", "mimeType": "image/png", "content": png}
    env.remote.create({**_person(1), "photo": photo})
    env.engine.pull(env.book)
    (row,) = _rows(env)
    assert "PHOTO" in row.vcard
    assert png[:40] in row.vcard.replace("\r\n ", "")


def _rows(env: Env):  # type: ignore[no-untyped-def]
    return [
        env.engine.store.get(env.book.id, item.href)
        for item in env.engine.store.list_items(env.book.id)
    ]


def test_freshness_pull_is_throttled(env: Env) -> None:
    env.remote.create(_person(1))
    env.engine.pull_if_stale(env.book, max_age=3600, wait=30)
    first = env.engine.store.book_by_id(env.book.id).last_pull
    assert first is not None and env.engine.store.count(env.book.id) == 1
    env.remote.create(_person(2))
    env.engine.pull_if_stale(env.book, max_age=3600, wait=30)  # too soon: no remote call
    assert env.engine.store.book_by_id(env.book.id).last_pull == first
    assert env.engine.store.count(env.book.id) == 1
    env.engine.pull_if_stale(env.book, max_age=0, wait=30)
    assert env.engine.store.count(env.book.id) == 2


def test_a_book_configured_for_vcard_4_serves_4(env: Env) -> None:
    book = env.engine.attach("alice", "work", env.engine.clients[env.book.id], "4.0")
    env.remote.create({**_person(1), "birthday": "--04-14"})
    env.engine.pull(book)
    (item,) = env.engine.store.list_items(book.id)
    assert "VERSION:4.0" in item.vcard and "BDAY:--0414" in item.vcard


def test_one_unmappable_remote_record_is_skipped_not_fatal(  # type: ignore[no-untyped-def]
    tmp_path, store_config
) -> None:
    """Aurinko answering a record the mapping cannot render (here: a malformed ``name``)."""
    import httpx

    from bridge.aurinko import AurinkoClient
    from bridge.sync import SyncEngine

    records = [
        {"id": "good-1", "etag": "e1", "name": {"displayName": "Good One"}},
        {"id": "bad", "etag": "e2", "name": "not an object"},
        {"id": "good-2", "etag": "e3", "name": {"displayName": "Good Two"}},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/contacts/sync"):
            return httpx.Response(
                200, json={"ready": True, "syncUpdatedToken": "u0", "syncDeletedToken": "d0"}
            )
        if request.url.path.endswith("/updated"):
            return httpx.Response(200, json={"records": records, "nextDeltaToken": "u1"})
        return httpx.Response(200, json={"records": [], "nextDeltaToken": "d1"})

    engine = SyncEngine(tmp_path / "bridge", store=store_config)
    client = AurinkoClient("t", "http://aurinko.invalid/v1", transport=httpx.MockTransport(handler))
    book = engine.attach("alice", "work", client)
    report = engine.pull(book)
    assert report.error is None
    assert report.created == 2
    assert len(report.skipped) == 1 and words(report.skipped[0]).startswith("bad: ")
    names = sorted(
        i.vcard.split("FN:")[1].split("\r\n")[0] for i in engine.store.list_items(book.id)
    )
    assert names == ["Good One", "Good Two"]
    assert engine.store.book_by_id(book.id).updated_token == "u1"  # the run completed
    engine.close()
