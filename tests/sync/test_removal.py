"""Removing NOTE, BDAY and the last EMAIL from a card removes them upstream, on every
sandbox profile, and a pull does not bring them back (the engine sends ``null`` for a
removed field: see docs/aurinko-contract-notes.md for why)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import StoreConfig
from bridge.sandbox import ProfileConfig, SandboxApp
from tests.conftest import TOKEN
from tests.sync.conftest import make_engine, vcard

FULL = ("NOTE:call after six", "BDAY:1980-02-03", "EMAIL;TYPE=INTERNET:ann@example.com")


@pytest.mark.parametrize("profile", ["generic", "office365", "google"])
def test_removed_fields_stay_removed(
    sandbox_app: SandboxApp,
    live_sandbox: str,
    tmp_path: Path,
    profile: str,
    store_config: StoreConfig | None,
) -> None:
    sandbox_app.set_profile(ProfileConfig(profile))
    engine = make_engine(tmp_path / "bridge", live_sandbox, store=store_config)
    book = engine.book("alice", "work")
    assert book is not None
    try:
        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann", *FULL))
        engine.sync(book)
        (stored,) = sandbox_app.dump(TOKEN)
        assert stored["notes"] and stored["birthday"] and stored["emailAddresses"]

        engine.put(book, "ann.vcf", vcard("uid-ann", "Ann"))
        report = engine.sync(book)
        assert report.error is None and not report.skipped, report.skipped
        (stored,) = sandbox_app.dump(TOKEN)
        assert not {"notes", "birthday", "emailAddresses"} & {k for k, v in stored.items() if v}

        engine.pull(book)  # nothing comes back from upstream
        row = engine.store.get(book.id, "ann.vcf")
        assert row is not None
        assert not any(p in row.vcard for p in ("NOTE", "BDAY", "EMAIL")), row.vcard
    finally:
        engine.close()
