"""Removing fields from a card removes them upstream, on every sandbox profile and however
the service reads a removal: as documented, with ``null`` ignored, with empty values ignored,
and with ``null`` refused (strict). A removal Aurinko does not make is held: the card keeps
the user's removal, and the report and ``status`` say so (docs/aurinko-contract-notes.md,
"Removing a field in a PATCH")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import AccountConfig, Config, StoreConfig
from bridge.sandbox import ProfileConfig, SandboxApp
from bridge.status import collect
from bridge.sync.reports import words
from tests.conftest import TOKEN
from tests.sync.conftest import make_engine, vcard

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
FULL = (
    "N:Smith;Ann;Quinn;;",
    "NOTE:call after six",
    "BDAY:1980-02-03",
    "EMAIL;TYPE=INTERNET:ann@example.com",
    "URL:https://ann.example.com/",
    "NICKNAME:Annie",
    f"PHOTO;ENCODING=b;TYPE=PNG:{PNG}",
)
BARE = ("N:Smith;Ann;;;",)
# Upstream field -> the card's property it comes from.
REMOVED = {
    "notes": "NOTE",
    "birthday": "BDAY",
    "emailAddresses": "EMAIL",
    "urls": "URL",
    "nickName": "NICKNAME",
    "photo": "PHOTO",
}

# How the service may read a removal; each converges.
SWITCHES: dict[str, dict[str, Any]] = {
    "as-documented": {},
    "null-ignored": {"null_ignored": True},
    "empty-unchanged": {"empty_unchanged": True},
    "strict": {"strict_body": True},
    "strict-null-ignored": {"strict_body": True, "null_ignored": True},
}


def _upstream(sandbox_app: SandboxApp) -> dict[str, Any]:
    (stored,) = sandbox_app.dump(TOKEN)
    return {k: v for k, v in stored.items() if v}


@pytest.mark.parametrize("switch", SWITCHES)
@pytest.mark.parametrize("profile", ["generic", "office365", "google"])
def test_removed_fields_stay_removed(
    sandbox_app: SandboxApp,
    live_sandbox: str,
    tmp_path: Path,
    profile: str,
    switch: str,
    store_config: StoreConfig | None,
) -> None:
    sandbox_app.set_profile(ProfileConfig(profile, **SWITCHES[switch]))
    engine = make_engine(tmp_path / "bridge", live_sandbox, store=store_config)
    book = engine.book("alice", "work")
    assert book is not None
    try:
        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", *FULL))
        engine.sync(book)
        stored = _upstream(sandbox_app)
        assert set(REMOVED) <= set(stored) and stored["name"]["middleName"] == "Quinn"

        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", *BARE))
        report = engine.sync(book)
        assert report.error is None and not report.skipped, report.skipped
        stored = _upstream(sandbox_app)
        assert not set(REMOVED) & set(stored), stored
        assert not stored["name"].get("middleName") and stored["name"]["givenName"] == "Ann"

        engine.pull(book)  # nothing comes back from upstream
        row = engine.store.get(book.id, "ann.vcf")
        assert row is not None and not row.held
        assert not any(p in row.vcard for p in REMOVED.values()), row.vcard
        assert "Quinn" not in row.vcard
    finally:
        engine.close()


# A service that keeps the value whatever the form: the removal is held.
HOSTILE: dict[str, dict[str, Any]] = {
    "null-and-empty-ignored": {"null_ignored": True, "empty_unchanged": True},
    "empty-ignored-null-refused": {"strict_body": True, "empty_unchanged": True},
}


@pytest.mark.parametrize("switch", HOSTILE)
def test_a_removal_aurinko_does_not_make_is_held_and_shown(
    sandbox_app: SandboxApp,
    live_sandbox: str,
    tmp_path: Path,
    switch: str,
    store_config: StoreConfig | None,
) -> None:
    sandbox_app.set_profile(ProfileConfig("generic", **HOSTILE[switch]))
    engine = make_engine(tmp_path / "bridge", live_sandbox, store=store_config)
    book = engine.book("alice", "work")
    assert book is not None
    try:
        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", "NOTE:call after six", "NICKNAME:A"))
        engine.sync(book)
        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", "NICKNAME:B"), push=False)
        report = engine.sync(book)
        assert report.error is None and engine.outbox.failed(book.id) == []
        assert any("did not remove notes" in line for line in map(words, report.skipped)), (
            report.skipped
        )
        stored = _upstream(sandbox_app)
        assert stored["notes"] == "call after six" and stored["nickName"] == "B"

        def card() -> str:
            row = engine.store.get(book.id, "ann.vcf")
            assert row is not None
            return row.vcard

        assert "NOTE" not in card() and "NICKNAME:B" in card()
        config = Config(
            data_dir=tmp_path / "bridge",
            accounts=[AccountConfig(name="work", user="alice", base_url=live_sandbox)],
        )
        (status,) = collect(engine, config, check_tokens=False)
        assert [(h.href, h.field, h.removal) for h in status.held] == [("ann.vcf", "notes", True)]

        # Another device edits the contact: the pull does not put the note back on the card.
        env_etag = sandbox_app.dump(TOKEN)[0]["etag"]
        sandbox_app.set_profile(ProfileConfig("generic"))
        with_remote_edit(live_sandbox, stored["id"], env_etag)
        engine.pull(book)
        assert "NICKNAME:C" in card() and "NOTE" not in card()

        # A later edit of something else does not send the removal again.
        engine.put(book, "ann.vcf", card().replace("NICKNAME:C", "NICKNAME:D"))
        report = engine.sync(book)
        assert report.error is None and report.skipped == [], report.skipped
        # The user writes a note again: it goes up and is no longer held.
        engine.put(book, "ann.vcf", card().replace("NICKNAME:D", "NICKNAME:D\r\nNOTE:new"))
        assert engine.sync(book).error is None
        assert _upstream(sandbox_app)["notes"] == "new"
        row = engine.store.get(book.id, "ann.vcf")
        assert row is not None and not row.held
    finally:
        engine.close()


def with_remote_edit(url: str, contact_id: str, etag: str) -> None:
    from bridge.aurinko import AurinkoClient

    with AurinkoClient(TOKEN, url) as other_device:
        other_device.update(contact_id, {"nickName": "C"}, etag=etag)
