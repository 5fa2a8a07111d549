"""Local writes reaching Aurinko: POST, PATCH with If-Match, DELETE, outbox and merges."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.mapping import MappingError
from bridge.sync import ConflictPolicy, UidConflictError
from bridge.sync.reports import words
from tests.conftest import TOKEN
from tests.sync.conftest import PROFILES, Env, assert_store_matches_sandbox, vcard


def _remote(env: Env, href: str) -> dict:
    row = env.engine.store.get(env.book.id, href)
    assert row is not None and row.remote_id, f"{href} never reached Aurinko"
    return env.remote.get(row.remote_id)


def _unavailable(env: Env) -> None:
    env.sandbox.set_faults(error_rate=1.0, error_statuses=(503,), retry_after=None)


def _available(env: Env) -> None:
    env.sandbox.set_faults(error_rate=0.0)


def test_local_create_update_delete_reach_aurinko(env: Env) -> None:
    row = env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann Example", "NICKNAME:Annie"))
    remote = _remote(env, "a.vcf")
    assert remote["nickName"] == "Annie"
    assert row.etag == env.engine.store.get(env.book.id, "a.vcf").etag  # served as returned

    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann Example", "NICKNAME:Nan"))
    updated = _remote(env, "a.vcf")
    assert updated["nickName"] == "Nan"
    assert updated["id"] == remote["id"]  # a PATCH, not a second contact
    assert len(env.sandbox.dump(TOKEN)) == 1

    env.engine.delete(env.book, "a.vcf")
    assert env.sandbox.dump(TOKEN) == []
    assert env.engine.outbox.count(env.book.id) == 0


def test_own_writes_echo_back_without_change_log_entries(env: Env) -> None:
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann", "EMAIL;TYPE=WORK:a@example.com"))
    env.engine.put(env.book, "b.vcf", vcard("uid-b", "Bob"))
    env.engine.pull(env.book)  # first pull: a full listing that includes our two contacts
    seq = env.engine.store.current_seq(env.book.id)
    env.engine.put(env.book, "b.vcf", vcard("uid-b", "Bob", "NOTE:hello"))
    seq_after_put = env.engine.store.current_seq(env.book.id)
    assert seq_after_put > seq
    report = env.engine.pull(env.book)
    assert report.updated == 0 and report.created == 0
    assert env.engine.changes_since(env.book, seq_after_put)[1] == []
    assert env.engine.store.count(env.book.id) == 2


def test_unmapped_properties_survive_the_round_trip(env: Env) -> None:
    card = vcard("uid-x", "Xavier", "X-CUSTOM;X-PARAM=1:kept", "item1.X-ABLabel:Custom")
    env.engine.put(env.book, "x.vcf", card)
    env.engine.pull(env.book)
    served = env.card("x.vcf")
    assert "X-CUSTOM;X-PARAM=1:kept" in served
    assert "item1.X-ABLabel:Custom" in served


def test_invalid_card_and_duplicate_uid_are_refused_and_store_nothing(env: Env) -> None:
    with pytest.raises(MappingError):
        env.engine.put(env.book, "bad.vcf", "this is not a vcard")
    env.engine.put(env.book, "one.vcf", vcard("same-uid", "One"))
    with pytest.raises(UidConflictError):
        env.engine.put(env.book, "two.vcf", vcard("same-uid", "Two"))
    assert [i.href for i in env.engine.store.list_items(env.book.id)] == ["one.vcf"]
    assert len(env.sandbox.dump(TOKEN)) == 1


def test_writes_wait_in_the_outbox_and_survive_a_restart(env: Env) -> None:
    _unavailable(env)
    row = env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    env.engine.put(env.book, "b.vcf", vcard("uid-b", "Bob"))
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann", "NICKNAME:A"))
    assert row.etag  # accepted and served while Aurinko is down
    assert env.engine.outbox.count(env.book.id) == 2  # the edit folded into its create
    assert env.sandbox.dump(TOKEN) == []

    env.reopen()
    assert env.engine.outbox.count(env.book.id) == 2
    _available(env)
    report = env.engine.sync(env.book)
    assert report.error is None and report.pushed == 2
    names = sorted(c.get("nickName", "") for c in env.sandbox.dump(TOKEN))
    assert names == ["", "A"]
    assert_store_matches_sandbox(env)


def test_outbox_pushes_in_order(env: Env) -> None:
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    _unavailable(env)
    env.engine.delete(env.book, "a.vcf")
    env.engine.put(env.book, "a.vcf", vcard("uid-a2", "Ann again"))  # same href, new card
    _available(env)
    env.engine.sync(env.book)
    remote = env.sandbox.dump(TOKEN)
    assert [c["name"]["displayName"] for c in remote] == ["Ann again"]
    assert_store_matches_sandbox(env)


def _queue_local_edit(env: Env, card: str) -> None:
    _unavailable(env)
    env.engine.put(env.book, "a.vcf", card)
    _available(env)


def _remote_edit(env: Env, fields: dict) -> None:
    row = env.engine.store.get(env.book.id, "a.vcf")
    assert row is not None and row.remote_id
    current = env.remote.get(row.remote_id)
    env.remote.update(row.remote_id, fields, etag=current["etag"])


@pytest.mark.parametrize("profile", PROFILES)
def test_412_merges_changes_to_different_fields(env: Env) -> None:
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    _queue_local_edit(env, vcard("uid-a", "Ann", "NICKNAME:Local"))
    _remote_edit(env, {"notes": "remote note"})
    report = env.engine.sync(env.book)
    assert report.conflicts == []
    remote = _remote(env, "a.vcf")
    assert remote["nickName"] == "Local" and remote["notes"] == "remote note"
    served = env.card("a.vcf")
    assert "NICKNAME:Local" in served and "NOTE:remote note" in served
    assert_store_matches_sandbox(env)


@pytest.mark.parametrize("profile", PROFILES)
def test_412_same_field_remote_wins_and_local_version_is_kept(env: Env) -> None:
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    _queue_local_edit(env, vcard("uid-a", "Ann", "NICKNAME:Local"))
    _remote_edit(env, {"nickName": "Remote"})
    report = env.engine.sync(env.book)
    assert _remote(env, "a.vcf")["nickName"] == "Remote"
    assert "NICKNAME:Remote" in env.card("a.vcf")
    (kept,) = report.conflicts
    assert "NICKNAME:Local" in Path(kept.where).read_text(encoding="utf-8")
    (conflict,) = env.engine.outbox.conflicts(env.book.id)
    assert conflict.fields == ["nickName"] and conflict.lost_json["nickName"] == "Local"


@pytest.mark.parametrize("policy", [ConflictPolicy.LOCAL_WINS])
def test_412_same_field_local_wins_when_configured(env: Env) -> None:
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    _queue_local_edit(env, vcard("uid-a", "Ann", "NICKNAME:Local"))
    _remote_edit(env, {"nickName": "Remote"})
    report = env.engine.sync(env.book)
    assert _remote(env, "a.vcf")["nickName"] == "Local"
    assert len(report.conflicts) == 1
    assert_store_matches_sandbox(env)


@pytest.mark.parametrize("profile", PROFILES)
def test_local_edit_of_a_remotely_deleted_contact_is_kept(env: Env) -> None:
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    _queue_local_edit(env, vcard("uid-a", "Ann", "NICKNAME:Local"))
    row = env.engine.store.get(env.book.id, "a.vcf")
    assert row is not None and row.remote_id
    env.remote.delete(row.remote_id)
    report = env.engine.sync(env.book)
    assert env.engine.store.get(env.book.id, "a.vcf") is None  # remote wins by default
    (kept,) = report.conflicts
    assert "NICKNAME:Local" in Path(kept.where).read_text(encoding="utf-8")


def test_rejected_write_is_skipped_and_the_rest_goes_on(env: Env) -> None:
    _unavailable(env)
    env.engine.put(env.book, "a.vcf", vcard("uid-a", "Ann"))
    env.engine.put(env.book, "b.vcf", vcard("uid-b", "Bob"))
    # Make the first queued create one the server must refuse.
    op = env.engine.outbox.pending(env.book.id)[0]
    env.engine.db.connection().execute(
        "UPDATE outbox SET local_json = ? WHERE id = ?",
        ('{"phoneNumbers": [{"number": "1", "type": "carphone"}]}', op.id),
    )
    _available(env)
    report = env.engine.sync(env.book)
    assert len(report.skipped) == 1 and "a.vcf" in words(report.skipped[0])
    assert [c["name"]["displayName"] for c in env.sandbox.dump(TOKEN)] == ["Bob"]
    assert [f.href for f in env.engine.outbox.failed(env.book.id)] == ["a.vcf"]
