"""Restarts (same database file) and seeding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.sandbox import SandboxApp, SandboxConfig, SeedError, serve_in_thread
from tests.sandbox.conftest import (
    OTHER_TOKEN,
    TOKEN,
    Api,
    create,
    make_app,
    open_api,
    run_chain,
    start_sync,
)

SEED = [
    {"name": {"givenName": "Seed"}, "company": {"companyName": "Aliased Inc."}},
    {"emailAddresses": [{"address": "only@example.com"}]},
    {"nickName": "third", "id": "ignored-id"},
]


def _write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_data_and_tokens_survive_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    config = SandboxConfig(db_path=db, tokens=[TOKEN, OTHER_TOKEN], page_size=2)
    with serve_in_thread(config) as first:
        client = Api(first.app, "socket", first).client()
        contacts = [create(client, {"nickName": f"c{i}"}) for i in range(5)]
        status = start_sync(client)
        _, updated_token, _ = run_chain(client, "updated", status["syncUpdatedToken"])
        page = client.get(
            "/contacts/sync/updated", params={"deltaToken": status["syncUpdatedToken"]}
        )
        page_token = page.json()["nextPageToken"]
    with serve_in_thread(config) as second:
        client = Api(second.app, "socket", second).client()
        fetched = client.get(f"/contacts/{contacts[0]['id']}").json()
        assert fetched == contacts[0]["record"]
        # Tokens issued before the restart still work, and see changes made after it.
        patched = client.patch(
            f"/contacts/{contacts[1]['id']}",
            json={"notes": "n"},
            headers={"If-Match": contacts[1]["etag"]},
        )
        assert patched.status_code == 200
        client.delete(f"/contacts/{contacts[2]['id']}")
        updated, _, _ = run_chain(client, "updated", updated_token)
        assert [r["id"] for r in updated] == [contacts[1]["id"]]
        deleted, _, _ = run_chain(client, "deleted", status["syncDeletedToken"])
        assert [r["id"] for r in deleted] == [contacts[2]["id"]]
        resumed = client.get("/contacts/sync/updated", params={"pageToken": page_token})
        assert resumed.status_code == 200
        # New ids and sequences continue; nothing is reused.
        new = create(client)
        assert new["id"] not in {c["id"] for c in contacts}


def test_compaction_floor_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    app = make_app(db_path=db)
    client = open_api(app, "wsgi").client()
    create(client)
    _, token, _ = run_chain(client, "updated", start_sync(client)["syncUpdatedToken"])
    create(client)
    app.compact_history()
    app.close()
    app = make_app(db_path=db)
    try:
        response = (
            open_api(app, "wsgi")
            .client()
            .get("/contacts/sync/updated", params={"deltaToken": token})
        )
        assert response.status_code == 410
    finally:
        app.close()


@pytest.mark.parametrize("shape", ["list", "object"])
def test_seed_fills_the_first_account_once(tmp_path: Path, shape: str) -> None:
    seed = _write(tmp_path / "seed.json", SEED if shape == "list" else {"contacts": SEED})
    db = str(tmp_path / "sandbox.db")
    app = make_app(db_path=db, seed_path=seed)
    dumped = app.dump(TOKEN)
    assert len(dumped) == 3
    assert app.dump(OTHER_TOKEN) == []
    assert {c["company"]["name"] for c in dumped if "company" in c} == {"Aliased Inc."}
    assert "ignored-id" not in {c["id"] for c in dumped}
    app.close()
    # A restart with the same seed adds nothing.
    app = make_app(db_path=db, seed_path=seed)
    assert sorted(c["id"] for c in app.dump(TOKEN)) == sorted(c["id"] for c in dumped)
    app.close()


def test_seed_is_not_applied_to_a_non_empty_account_nor_after_everything_was_deleted(
    tmp_path: Path,
) -> None:
    seed = _write(tmp_path / "seed.json", SEED)
    db = str(tmp_path / "sandbox.db")
    app = make_app(db_path=db)
    create(open_api(app, "wsgi").client(), {"nickName": "mine"})
    app.close()
    app = make_app(db_path=db, seed_path=seed)
    assert [c["nickName"] for c in app.dump(TOKEN)] == ["mine"]
    client = open_api(app, "wsgi").client()
    client.delete(f"/contacts/{app.dump(TOKEN)[0]['id']}")
    app.compact_history()
    app.close()
    app = make_app(db_path=db, seed_path=seed)
    assert app.dump(TOKEN) == []
    app.close()


def test_seeded_contacts_are_part_of_the_full_load(tmp_path: Path) -> None:
    app = make_app(seed_path=_write(tmp_path / "seed.json", SEED))
    try:
        client = open_api(app, "wsgi").client()
        records, _, _ = run_chain(client, "updated", start_sync(client)["syncUpdatedToken"])
        assert len(records) == 3
    finally:
        app.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read seed file"),
        ("{not json", "not valid JSON"),
        ('{"people": []}', "must hold a list"),
        ('[{"phoneNumbers": [{"type": "cell"}]}]', "contact #0"),
        ('[{"name": "x"}, 1]', "contact #0"),
    ],
)
def test_a_bad_seed_file_raises_seed_error_and_seeds_nothing(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "seed.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SeedError, match=message):
        make_app(db_path=str(tmp_path / "s.db"), seed_path=str(path))
    app = make_app(db_path=str(tmp_path / "s.db"))
    assert app.dump(TOKEN) == []
    app.close()


@pytest.mark.parametrize(
    "settings",
    [
        {"tokens": []},
        {"page_size": 0},
        {"token_ttl": 0},
        {"tokens": [" padded "]},
        {"tokens": [""]},
    ],
)
def test_bad_configuration_raises_value_error(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SandboxApp(SandboxConfig(**{"db_path": ":memory:", "tokens": [TOKEN], **settings}))
